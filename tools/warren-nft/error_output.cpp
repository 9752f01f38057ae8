// SPDX-License-Identifier: Apache-2.0
#include "error_output.hpp"

#include "metrics/errc_name.hpp"
#include "printable.hpp"

#include <nlohmann/json.hpp>

namespace warren::cli {

std::string_view error_code_name(nft::errc condition) noexcept { return nft::errc_name(condition); }

void report_error(std::ostream& err, bool json, std::string_view code, std::string_view message)
{
    // The message keeps its backslashes: they are the escapes of what it echoes.
    const auto line = nft::printable(message, nft::Backslash::keep);
    if (!json) {
        err << "warren-nft: " << line << "\n";
        return;
    }
    const nlohmann::ordered_json object{{"error", {{"code", code}, {"message", line}}}};
    err << object.dump() << "\n";
}

}  // namespace warren::cli
