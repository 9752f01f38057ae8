// SPDX-License-Identifier: Apache-2.0
#include "publisher/observed_call.hpp"

namespace warren::nft {

void record_outcome(MetricsRecorder& metrics, const Log& log, std::optional<MetricsRecorder::Operation> operation,
                    std::chrono::steady_clock::duration took, const std::exception_ptr& error)
{
    if (!error) {
        if (operation)
            metrics.finished(*operation, took, nullptr);
        return;
    }
    std::error_code code;  // not an Error (out of memory): counted as "other"
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        code = e.code();
        if (e.kernel_errno() != 0 && e.code() != errc::port_conflict && log.enabled())
            log(LogLevel::warning, "refused by the kernel: " + printable(e.what(), Backslash::keep));
    } catch (const std::system_error& e) {
        code = e.code();
    } catch (...) {
    }
    if (operation)
        metrics.finished(*operation, took, &code);
    else
        metrics.error(code);
}

}  // namespace warren::nft
