// SPDX-License-Identifier: Apache-2.0
// What PublisherEngine asks of the publisher's policy (HostPortPublisher::Impl, which stays opaque
// here): publishes and unpublishes decided together into one transaction that is sent without
// waiting, and the announcements read when the engine's loop says they are there.
#pragma once

#include "publisher/metrics_recorder.hpp"
#include "publisher/task_index.hpp"
#include "publisher/validation.hpp"
#include "ruleset/backend.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace warren::nft {

// One publish or unpublish of a batch, as the synchronous calls take them.
struct BatchRequest {
    std::string task_id;
    bool unpublish = false;
    std::vector<IndexEntry> wanted;  // the ports a publish asks for (wanted_entries())
    std::exception_ptr error;        // set by plan_batch() when the request fails on its own
    // A publish with ports that ask for 0: the ports as asked and the container's addresses, from
    // which plan_batch() makes `wanted` anew each time it plans, with the host ports it chose.
    std::vector<PortMapping> automatic = {};
    validation::ContainerFamilies addresses = {};
    // The task's ports as published, set by batch_committed() for a publish it carried.
    std::vector<PortMapping> published = {};
};

// The transaction that carries a batch's requests.
struct BatchPlan {
    ruleset::Commit commit;  // empty: nothing to send, the requests are done as planned
    std::array<bool, 2> changed{}, repaired{};
    // The requests it carries, in order (those that failed on their own are not among them).
    std::vector<std::size_t> members;
    // The ports of each task the batch changes, after it.
    std::map<std::string, std::vector<IndexEntry>, std::less<>> states;
    std::vector<ruleset::FlowMatch> flows;  // connection tracking entries it makes stale
    int resends = 0;                        // sent again as it is, after others' commits elsewhere
};

// What to do with a batch the kernel refused.
enum class AfterRefusal {
    resend,  // others committed only to other tables: send the same plan again (send_guard() anew)
    replan,  // our view was stale and is brought up to date: plan the requests again
    final,   // the kernel's answer stands
};

// The entries `ports` become for a container with `addresses` (throws Error for bad requests).
std::vector<IndexEntry> wanted_entries(const validation::ContainerFamilies& addresses, std::span<const PortMapping> ports);

// Owns a policy where HostPortPublisher::Impl is not a complete type.
struct PolicyDeleter {
    void operator()(HostPortPublisher::Impl* policy) const noexcept;
};
using Policy = std::unique_ptr<HostPortPublisher::Impl, PolicyDeleter>;

// A policy without a thread of its own: a self-healing one repairs when on_announcements() is called.
Policy driven_policy(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options);
ruleset::Backend& backend_of(HostPortPublisher::Impl& policy);

// Decides the requests one after the other, as if each were made alone in that order: a conflict
// fails only its request (BatchRequest::error). Throws Error when nothing can be decided (the table
// cannot be read).
BatchPlan plan_batch(HostPortPublisher::Impl& policy, std::span<BatchRequest> requests);
// The generation to guard the plan's commit with; none for the last resend (as the synchronous
// publisher commits its last attempt).
std::optional<std::uint32_t> send_guard(HostPortPublisher::Impl& policy, const BatchPlan& plan);
// The plan's commit was applied: the view, the kept tasks and the conntrack cleanup follow.
void batch_committed(HostPortPublisher::Impl& policy, const BatchPlan& plan, std::span<BatchRequest> requests);
AfterRefusal batch_refused(HostPortPublisher::Impl& policy, BatchPlan& plan, const Error& refusal);
// The error of requests that other writers' commits kept from being committed.
Error contention_error();

// Reads the announcements that arrived; a self-healing policy repairs what they show damaged (when
// `repair`). Returns true when a repair failed and should be tried again after a pause.
bool on_announcements(HostPortPublisher::Impl& policy, bool repair);
std::vector<PortMapping> published_ports(HostPortPublisher::Impl& policy, std::string_view task_id);
void reconcile(HostPortPublisher::Impl& policy, std::span<const TaskPorts> desired);
const KernelFeatures& kernel_features(const HostPortPublisher::Impl& policy) noexcept;
// Polls readable when announcements wait to be read.
int feed_fd(const HostPortPublisher::Impl& policy) noexcept;
void wait_for_conntrack_cleanup(HostPortPublisher::Impl& policy);

// The policy's recorder, where the engine records its requests (finished()), the transactions it
// sends (batch()) and their errors; retries, repairs and reads of the table the policy records itself.
MetricsRecorder& recorder_of(HostPortPublisher::Impl& policy);
// Records how a request of the engine ended, as the synchronous calls record themselves
// (observed_call.hpp: its duration, its error, the kernel's reason in the log).
void record_outcome(HostPortPublisher::Impl& policy, std::optional<MetricsRecorder::Operation> operation,
                    std::chrono::steady_clock::duration took, const std::exception_ptr& error);
// HostPortPublisher::metrics() of the policy: the recorder's counters with the table's gauges.
MetricsSnapshot metrics_of(HostPortPublisher::Impl& policy);

}  // namespace warren::nft
