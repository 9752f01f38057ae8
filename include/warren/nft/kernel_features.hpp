// SPDX-License-Identifier: Apache-2.0
// What the running kernel's nf_tables supports, probed once when a publisher starts.
#pragma once

namespace warren::nft {

struct KernelFeatures {
    // NFT_MSG_DESTROY* messages (Linux 6.3+): deletes that do not fail when the object is gone.
    bool destroy_messages = false;
    // The kernel acknowledges NLM_F_ACK on BATCH_BEGIN/BATCH_END (Linux 6.10+). Without it the
    // end of a batch is recognised by the acknowledgement of its last message instead.
    bool batch_acks = false;
    // A rule may look a key up in a map without loading the value it maps to (newer kernels; not
    // Debian 12's 6.1). Without it, a table always counts: its masquerade and forward rules look
    // destinations up in the backends set instead of the ports maps.
    bool map_lookups = false;
};

}  // namespace warren::nft
