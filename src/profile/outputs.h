#pragma once
// `hedgehog profile FILE`: FILE is a benchmark results JSON (every dataset with a "profiling"
// report) or one raw report as the `report` command prints it. For each report, FILE.prof/
// (FILE without its .json extension) receives NAME.summary, NAME.log and NAME.html, where NAME is
// the dataset name made safe as a file name.
#include <string>
#include <string_view>
#include <vector>

#include "profile/report.h"

namespace hh::profile {

struct NamedReport {
  std::string name;   // the file name stem
  std::string title;  // for headings: "PROGRAM, dataset NAME"
  Report report;
};

// FormatError naming the file and field when it is neither a results file nor a report;
// UsageError when a results file holds no profiling report (bench ran without --profile).
std::vector<NamedReport> read_profile_inputs(const std::string& path);

// "results.json" -> "results.prof"; "report" -> "report.prof".
std::string output_dir_for(const std::string& path);

// Any character outside [A-Za-z0-9._#()+,=@-] becomes '_', and a leading '.' too, so a dataset
// named "data/x.in" or ".." cannot leave the output folder.
std::string safe_file_name(std::string_view name);

// Writes the three files per report; returns the paths written.
std::vector<std::string> write_profile_outputs(const std::string& path, const std::string& out_dir);

}  // namespace hh::profile
