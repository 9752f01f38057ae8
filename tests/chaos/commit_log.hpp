// SPDX-License-Identifier: Apache-2.0
// Who committed what, from the kernel's own announcements: a forked process that joins
// NFNLGRP_NFTABLES and, for every committed transaction, notes the tables its objects belong to
// and the name of the thread that committed it (NFTA_GEN_PROC_NAME of the closing NEWGEN). Lets the
// chaos harness prove that no publisher ever committed to a table other than ip/ip6 warren,
// independently of anything the library says about itself.
#pragma once

#include "process.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chaos {

class CommitLog {
public:
    // Forks the listener into the calling thread's network namespace; it is subscribed when this
    // returns. The caller must be single-threaded.
    CommitLog();
    ~CommitLog();
    CommitLog(const CommitLog&) = delete;
    CommitLog& operator=(const CommitLog&) = delete;

    struct Summary {
        std::map<std::string, unsigned long> transactions;  // by committing thread's name
        // Transactions of threads whose name starts with `watched` that touched another table than
        // ip warren and ip6 warren: "wpub-1 committed to inet foreign (generation 123)".
        std::vector<std::string> violations;
        unsigned long losses = 0;  // times the kernel dropped announcements (ENOBUFS)
    };
    // Stops listening (after reading what the kernel queued so far) and returns what it saw.
    Summary stop();

    static constexpr const char* watched = "wpub";

private:
    int control_ = -1;
    std::unique_ptr<sandbox::ForkedChild> child_;
};

}  // namespace chaos
