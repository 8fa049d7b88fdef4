#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "bench/results.h"
#include "profile/html.h"
#include "profile/outputs.h"
#include "profile/report.h"
#include "util/error.h"

namespace hh::profile {
namespace {

namespace fs = std::filesystem;

const char* kReport = R"({"memory": {"host": 3221225472, "device": 1024},
  "events": [
    {"name": "matmul", "start": 1000, "end": 1300, "details": "q_proj [1][1024]"},
    {"name": "norm", "start": 1300, "end": 1310, "details": ""},
    {"name": "matmul", "start": 1310, "end": 1410, "details": "k_proj"},
    {"name": "attention", "start": 1410, "end": 1460, "details": "</script><b>x</b>"},
    {"name": "matmul", "start": 1460, "end": 1560}
  ]})";

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hh_profile_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir_;
};

TEST_F(ProfileTest, CostCentresSummaryAndLog) {
  const Report r = parse_report(nlohmann::json::parse(kReport), "r");
  ASSERT_EQ(r.events.size(), 5u);
  const auto cc = cost_centres(r);
  ASSERT_EQ(cc.size(), 3u);
  EXPECT_EQ(cc[0].name, "matmul");
  EXPECT_EQ(cc[0].count, 3);
  EXPECT_DOUBLE_EQ(cc[0].total_us, 500);
  EXPECT_NEAR(cc[0].mean_us(), 166.67, 0.01);
  EXPECT_NEAR(cc[0].share, 500.0 / 560.0, 1e-12);
  EXPECT_EQ(cc[1].name, "attention");
  EXPECT_EQ(cc[2].name, "norm");

  const std::string summary = summary_text(r, "test");
  EXPECT_NE(summary.find("5 events, 560.0 µs in all"), std::string::npos) << summary;
  // Sorted by total: matmul's line comes before attention's, before norm's.
  EXPECT_LT(summary.find("matmul"), summary.find("attention"));
  EXPECT_LT(summary.find("attention"), summary.find("norm"));
  EXPECT_NE(summary.find("89.3%"), std::string::npos) << summary;
  EXPECT_NE(summary.find("3.00 GiB"), std::string::npos) << summary;
  EXPECT_NE(summary.find("device"), std::string::npos) << summary;

  const std::string log = log_text(r, "test");
  EXPECT_NE(log.find("           0.0         300.0  matmul     q_proj [1][1024]"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("         460.0         100.0  matmul\n"), std::string::npos) << log;
}

TEST_F(ProfileTest, BadReports) {
  const struct {
    const char* json;
    const char* message;
  } cases[] = {
      {"[]", "must be a JSON object"},
      {"{}", "missing \"events\""},
      {R"({"events": [1]})", "events[0]: not an object"},
      {R"({"events": [{"start": 1, "end": 2}]})", "missing \"name\""},
      {R"({"events": [{"name": "a", "start": "x", "end": 2}]})", "non-numeric \"start\""},
      {R"({"events": [{"name": "a", "start": 5, "end": 2}]})", "ends (2) before it starts (5)"},
      {R"({"memory": [], "events": []})", "\"memory\" must be an object"},
  };
  for (const auto& c : cases) {
    try {
      parse_report(nlohmann::json::parse(c.json), "r.json");
      ADD_FAILURE() << c.json;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

TEST_F(ProfileTest, HtmlIsSelfContainedAndEscaped) {
  const Report r = parse_report(nlohmann::json::parse(kReport), "r");
  const std::string html = html_page(r, "a <title>");
  EXPECT_NE(html.find("<svg id=\"cost-chart\""), std::string::npos);
  EXPECT_EQ(std::count(html.begin(), html.end(), '\0'), 0);
  // One bar per cost centre.
  size_t bars = 0;
  for (size_t p = 0; (p = html.find("class=\"bar\"", p)) != std::string::npos; ++p) ++bars;
  EXPECT_EQ(bars, 3u);
  EXPECT_NE(html.find("<canvas id=\"timeline\""), std::string::npos);
  EXPECT_NE(html.find("a &lt;title&gt;"), std::string::npos);
  // Event details cannot close the data script early.
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  EXPECT_NE(html.find("<\\/script><b>x<\\/b>"), std::string::npos);
  // Nothing is loaded from elsewhere.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST_F(ProfileTest, WritesFilesForAResultsFile) {
  bench::Results results(2);
  results[0].name = "b.spec:gen";
  results[1].name = "b.spec:logits";
  bench::DatasetResult d;
  d.name = "data/x.in";
  d.runtimes = {1, 2};
  d.profiling = nlohmann::json::parse(kReport);
  bench::DatasetResult plain = d;
  plain.name = "noprofile";
  plain.profiling.reset();
  bench::DatasetResult failed;
  failed.name = "failed";
  failed.error = "boom";
  results[0].datasets = {d, plain, failed};
  results[1].datasets = {d};
  const std::string path = (dir_ / "results.json").string();
  bench::write_results_file(path, results);

  EXPECT_EQ(output_dir_for(path), (dir_ / "results.prof").string());
  const auto written = write_profile_outputs(path, output_dir_for(path));
  ASSERT_EQ(written.size(), 6u);
  const fs::path out = dir_ / "results.prof";
  for (const char* f :
       {"data_x.in.summary", "data_x.in.log", "data_x.in.html", "logits-data_x.in.summary"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  EXPECT_NE(read(out / "data_x.in.summary").find("b.spec:gen, dataset data/x.in"),
            std::string::npos);
}

TEST_F(ProfileTest, RawReportsAndBadInputs) {
  const std::string raw = write("report.json", kReport);
  const auto written = write_profile_outputs(raw, output_dir_for(raw));
  ASSERT_EQ(written.size(), 3u);
  EXPECT_TRUE(fs::exists(dir_ / "report.prof" / "report.html"));

  EXPECT_THROW(read_profile_inputs((dir_ / "none.json").string()), SystemError);
  const std::string truncated = write("t.json", std::string(kReport).substr(0, 100));
  EXPECT_THROW(read_profile_inputs(truncated), FormatError);
  const std::string noprof = write("n.json", R"({"p": {"datasets": {"d": {"runtimes": [1]}}}})");
  try {
    read_profile_inputs(noprof);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--profile"), std::string::npos) << e.what();
  }
  const std::string neither = write("x.json", R"({"p": 3})");
  EXPECT_THROW(read_profile_inputs(neither), FormatError);
  EXPECT_EQ(safe_file_name(".."), "_.");
  EXPECT_EQ(safe_file_name("a/b c"), "a_b_c");
  EXPECT_EQ(safe_file_name(""), "_");
}

// --- the page in a real browser -------------------------------------------------------------

std::string chromium_path() {
  for (const char* p :
       {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// Runs headless Chromium with `args` on `url`; returns its exit status, stdout in `out` and
// stderr in `err`.
int run_chromium(const std::string& chromium, const fs::path& dir,
                 const std::vector<std::string>& args, const std::string& url, std::string& out,
                 std::string& err) {
  std::vector<std::string> argv = {chromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--enable-logging=stderr",
                                   "--v=0",
                                   "--user-data-dir=" + (dir / "chromium-profile").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  std::string command;
  for (const auto& a : argv) command += "'" + a + "' ";
  command += "> '" + (dir / "stdout.txt").string() + "' 2> '" + (dir / "stderr.txt").string() + "'";
  const int status = std::system(("timeout 60 " + command).c_str());
  std::ifstream o(dir / "stdout.txt"), e(dir / "stderr.txt");
  std::ostringstream os, es;
  os << o.rdbuf();
  es << e.rdbuf();
  out = os.str();
  err = es.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(ProfileTest, PageLoadsAndDrawsInChromium) {
  const std::string chromium = chromium_path();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  const Report r = parse_report(nlohmann::json::parse(kReport), "r");
  const std::string page = write("page.html", html_page(r, "browser test"));
  std::string dom, err;
  ASSERT_EQ(run_chromium(chromium, dir_, {"--dump-dom", "--virtual-time-budget=5000"},
                         "file://" + page, dom, err),
            0)
      << err;
  // The script ran to the end and drew every event on the canvas.
  EXPECT_NE(dom.find("data-drawn-events=\"5\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("class=\"bar\""), std::string::npos);
  // No script errors reached the console.
  EXPECT_EQ(err.find("Uncaught"), std::string::npos) << err;
  EXPECT_EQ(err.find(":CONSOLE"), std::string::npos) << err;
}

// Screenshot: the rendered page is a valid PNG of the requested size, and clearly not blank:
// its compressed size is well above that of an empty page of the same size.
TEST_F(ProfileTest, ScreenshotIsNotBlank) {
  const std::string chromium = chromium_path();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  const Report r = parse_report(nlohmann::json::parse(kReport), "r");
  const std::string page = write("page.html", html_page(r, "screenshot test"));
  const std::string blank = write("blank.html", "<!DOCTYPE html><html><body></body></html>");
  const auto shoot = [&](const std::string& url, const std::string& png) {
    std::string out, err;
    const int status = run_chromium(chromium, dir_,
                                    {"--screenshot=" + png, "--window-size=1000,800",
                                     "--hide-scrollbars", "--virtual-time-budget=5000"},
                                    url, out, err);
    EXPECT_EQ(status, 0) << err;
    return read(png);
  };
  const std::string shot = shoot("file://" + page, (dir_ / "page.png").string());
  const std::string empty = shoot("file://" + blank, (dir_ / "blank.png").string());
  ASSERT_GT(shot.size(), 24u);
  EXPECT_EQ(shot.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(shot[at])) << 24) | (uint32_t(uint8_t(shot[at + 1])) << 16) |
           (uint32_t(uint8_t(shot[at + 2])) << 8) | uint32_t(uint8_t(shot[at + 3]));
  };
  EXPECT_EQ(be32(16), 1000u);  // IHDR width
  EXPECT_EQ(be32(20), 800u);   // IHDR height
  EXPECT_GT(shot.size(), 4 * empty.size())
      << "page " << shot.size() << " bytes, blank " << empty.size();
}

}  // namespace
}  // namespace hh::profile
