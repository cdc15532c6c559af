// A saved JSON report (schema cwtrace.report/1, as render_json writes it) back into a Report,
// for `cwtrace render`. Input is untrusted: every field is checked for type and range, and the
// first problem is returned as a one-line error naming the field ("sockets[2].local.port:
// expected an integer from 0 to 65535"). Fields it does not know are ignored, so reports of later
// versions (which may only add fields) still read.
#pragma once

#include <string_view>

#include "model/report.h"
#include "util/result.h"

namespace cwtrace {

struct SavedReport {
    Report report;
    ReportContext context;  // "host", when the report has it
};

// One JSON document, or JSON Lines (the output of --interval): then the last line, the final
// report, is read.
Result<SavedReport> read_report(std::string_view text);

}  // namespace cwtrace
