// SPDX-License-Identifier: Apache-2.0
// Table ip warren as another process owns it (NFT_TABLE_F_OWNER, which nft 1.0.6 cannot ask for):
// created by a forked child that holds its netlink socket open. The kernel lets only that socket
// change the table, and deletes the table when the socket closes.
#pragma once

#include "netlink/kernel_backend.hpp"
#include "process.hpp"

#include <linux/netfilter/nf_tables.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace kt {

class OwnedTable {
public:
    static inline const warren::nft::ruleset::Table table{warren::nft::ruleset::Family::ip, "warren", NFT_TABLE_F_OWNER};

    // Returns once the table exists, with what a snapshot of another socket shows of it. The
    // calling process must be single-threaded (it forks).
    OwnedTable()
        : owner_([](int) {
              warren::nft::netlink::KernelBackend backend;
              backend.commit(warren::nft::ruleset::Transaction(table).add(table), std::nullopt);
              pause();
              return 0;
          })
    {
        warren::nft::netlink::KernelBackend reader;
        for (int i = 0; i < 500 && !snapshot_.exists; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            snapshot_ = reader.snapshot(table, {}, {});
        }
        if (!snapshot_.exists)
            throw std::runtime_error("the owner's table did not appear: " + std::to_string(owner_.wait()) + " " +
                                     owner_.report());
    }

    pid_t owner() const { return owner_.pid(); }
    const warren::nft::ruleset::TableSnapshot& snapshot() const { return snapshot_; }

    // Ends the owner (SIGKILL: it is a copy of the test process, whose handlers would report SIGTERM
    // as a failure); the kernel deletes its table with its socket.
    void release()
    {
        kill(owner_.pid(), SIGKILL);
        owner_.wait();
    }

private:
    sandbox::ForkedChild owner_;
    warren::nft::ruleset::TableSnapshot snapshot_;
};

}  // namespace kt
