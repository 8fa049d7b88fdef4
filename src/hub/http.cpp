#include "hub/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <mutex>

#include "hh_version.h"
#include "util/error.h"

namespace hh::hub {
namespace {

constexpr size_t kMaxKeptBody = 64 * 1024;  // error pages are short; never hold a whole file

void global_init() {
  // curl_global_init is not thread-safe; curl_easy_init would call it lazily without a lock.
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) fail("libcurl failed to initialise");
  });
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  bool headers_done = false;
};

size_t on_header_line(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line starts a new response (after a 100 Continue, say): forget the old one.
    t->response->headers.clear();
    const size_t space = line.find(' ');
    long status = 0;
    if (space != std::string_view::npos) {
      std::from_chars(line.data() + space + 1, line.data() + line.size(), status);
    }
    t->response->status = status;
    return n;
  }
  if (trim(line).empty()) {
    if (t->response->status >= 200 && !t->headers_done) {
      t->headers_done = true;
      if (t->request->on_headers &&
          !t->request->on_headers(t->response->status, t->response->headers)) {
        t->response->aborted_by_callback = true;
        return 0;  // aborts with CURLE_WRITE_ERROR
      }
    }
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name = trim(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->response->headers[name] = trim(line.substr(colon + 1));
  return n;
}

size_t on_body_bytes(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const long status = t->response->status;
  if (status >= 200 && status < 300 && t->request->on_body) {
    if (!t->request->on_body(data, n)) {
      t->response->aborted_by_callback = true;
      return 0;
    }
    return n;
  }
  const size_t room = kMaxKeptBody - std::min(kMaxKeptBody, t->response->body.size());
  t->response->body.append(data, std::min(n, room));
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

}  // namespace

HttpResponse http_perform(const HttpRequest& request) {
  global_init();
  HttpResponse response;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) fail("libcurl could not create a handle for {}", request.url);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const std::string& h : request.headers) {
    curl_slist* next = curl_slist_append(headers.get(), h.c_str());
    if (next == nullptr) fail("out of memory building the request for {}", request.url);
    headers.release();
    headers.reset(next);
  }
  Transfer transfer{&request, &response};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hedgehog/" HH_VERSION);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header_line);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body_bytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    fail("unsupported HTTP method {}", request.method);
  }
  char error_text[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text);

  const CURLcode code = curl_easy_perform(c);
  response.curl_code = static_cast<int>(code);
  if (code != CURLE_OK) {
    response.curl_error = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
  }
  long status = 0;
  if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status != 0) {
    response.status = status;
  }
  if (response.status >= 300 && response.status < 400) {
    char* target = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &target) == CURLE_OK && target != nullptr) {
      response.redirect_url = target;
    }
  }
  return response;
}

std::string url_origin(const std::string& url) {
  global_init();
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  std::string parts[3];
  const CURLUPart which[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
  for (int i = 0; i < 3; ++i) {
    char* text = nullptr;
    const unsigned flags = which[i] == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0;
    if (curl_url_get(u.get(), which[i], &text, flags) != CURLUE_OK) return "";
    parts[i] = text;
    curl_free(text);
  }
  std::string origin = parts[0] + "://" + parts[1] + ":" + parts[2];
  std::transform(origin.begin(), origin.end(), origin.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return origin;
}

std::string url_encode(const std::string& text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char ch : text) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
        (keep_slash && ch == '/')) {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

}  // namespace hh::hub
