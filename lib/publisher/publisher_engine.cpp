// SPDX-License-Identifier: Apache-2.0
// A queue of requests in front of the publisher's policy (batch_policy.hpp). The publishes and
// unpublishes at the head of the queue go into one transaction, sent without waiting; its answer is
// read when run() finds it there, and the requests queued meanwhile make up the next one. A
// transaction of several requests that the kernel refuses is split, and its requests tried again
// alone (halves, when it was too large to send), so that only the guilty one fails. Reads and
// reconciles wait their turn in the queue and are answered at once (the kernel answers them within
// the request's system call, as it does a commit: nothing here ever waits for it).
#include <warren/nft/publisher_engine.hpp>

#include "backoff.hpp"
#include "netlink/kernel_backend.hpp"
#include "publisher/automatic_ports.hpp"
#include "publisher/batch_policy.hpp"
#include "publisher/healer.hpp"
#include "publisher/metrics_recorder.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <variant>

namespace warren::nft {

namespace {

// Requests per transaction: enough that a burst costs a few transactions, few enough that one fits
// the send buffer a socket gets without raising it much.
constexpr std::size_t max_batch = 1024;

using Clock = std::chrono::steady_clock;

// Completions to call once run() holds nothing any more.
class Finished {
public:
    void add(PublisherEngine::Completion done, std::exception_ptr error, std::vector<PortMapping> ports = {})
    {
        items_.emplace_back(std::move(done), std::move(error), std::move(ports));
    }

    // Calls every one; the first exception a completion throws is rethrown after the others ran.
    void call()
    {
        std::exception_ptr thrown;
        for (auto& [done, error, ports] : items_) {
            try {
                done(error, std::move(ports));
            } catch (...) {
                if (!thrown)
                    thrown = std::current_exception();
            }
        }
        items_.clear();
        if (thrown)
            std::rethrow_exception(thrown);
    }

private:
    std::vector<std::tuple<PublisherEngine::Completion, std::exception_ptr, std::vector<PortMapping>>> items_;
};

// The transaction of a group of changes, from planning to its answer.
struct Flight {
    std::vector<BatchRequest> requests;
    std::vector<PublisherEngine::Completion> done;
    std::vector<Clock::time_point> queued;
    BatchPlan plan;
    std::unique_ptr<ruleset::PendingCommit> pending;  // refers to plan.commit: declared after it
    Backoff replans;
    // Set when the flight is over: each request's outcome is in requests[i].error, those of the
    // plan's members in `members_error` when the transaction was refused.
    bool over = false;
    std::exception_ptr members_error;
};

}  // namespace

class WARREN_NFT_LOCAL PublisherEngine::State {
public:
    State(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
        : policy_(driven_policy(std::move(backend), std::move(options)))
    {
    }

    // A publish or unpublish, checked already.
    struct Change {
        BatchRequest request;
        Completion done;
        Clock::time_point queued = Clock::now();  // its duration, in the metrics, counts from here
    };
    // Anything else queued.
    struct Other {
        enum class Kind { read, reconcile, invalid } kind;
        std::string task_id;
        std::vector<TaskPorts> desired;
        std::exception_ptr error;                             // why an invalid request is invalid
        std::optional<MetricsRecorder::Operation> operation;  // what an invalid request was to be
        Completion done;
        Clock::time_point queued = Clock::now();
    };

    // `done` is moved from only once the request is queued.
    void queue_publish(std::string task_id, const validation::ContainerFamilies& addresses, std::span<const PortMapping> ports,
                       Completion& done)
    {
        auto wanted = wanted_entries(addresses, ports);
        BatchRequest request{std::move(task_id), false, std::move(wanted), nullptr};
        if (wants_automatic_ports(ports)) {
            request.automatic.assign(ports.begin(), ports.end());
            request.addresses = addresses;
        }
        push(Change{std::move(request), std::move(done)});
    }

    template <typename Request>
    void push(Request request)
    {
        std::lock_guard lock(queue_mutex_);
        queue_.emplace_back(std::move(request));
        busy_ = true;
    }

    // Queues the request `check` was to make as an invalid one, failing with what it threw (`check`
    // moves from `done` only once nothing can throw any more).
    template <typename Check>
    void checked(std::optional<MetricsRecorder::Operation> operation, Completion& done, Check&& check)
    {
        try {
            check();
        } catch (...) {
            push(Other{Other::Kind::invalid, {}, {}, std::current_exception(), operation, std::move(done)});
        }
    }

    Wait run()
    {
        Finished finished;
        bool followed = false;
        for (;;) {
            if (flight_ && flight_->pending) {
                if (!read_answer())
                    break;
                continue;
            }
            // Never with a commit in flight: its own announcements would read as another writer's.
            if (!followed) {
                follow_announcements();
                followed = true;
            }
            if (flight_) {
                if (flight_->over) {
                    finish_flight(finished);
                    continue;
                }
                if (resume_at_ && Clock::now() < *resume_at_)
                    break;
                resume_at_.reset();
                plan_and_send();
                continue;
            }
            if (!start_next(finished))
                break;
        }
        Wait wait;
        wait.answer = flight_ && flight_->pending;
        if (flight_ && !flight_->pending)
            wait.until = resume_at_;
        if (heal_retry_at_ && (!wait.until || *heal_retry_at_ < *wait.until))
            wait.until = heal_retry_at_;
        {
            std::lock_guard lock(queue_mutex_);
            busy_ = flight_.has_value() || !retry_.empty() || !queue_.empty();
        }
        finished.call();
        return wait;
    }

    bool busy() const
    {
        std::lock_guard lock(queue_mutex_);
        return busy_;
    }

    HostPortPublisher::Impl& policy() noexcept { return *policy_; }
    const HostPortPublisher::Impl& policy() const noexcept { return *policy_; }

private:
    using Group = std::vector<Change>;

    void follow_announcements()
    {
        const auto now = Clock::now();
        const bool repair = !heal_retry_at_ || now >= *heal_retry_at_;
        try {
            if (on_announcements(*policy_, repair))
                heal_retry_at_ = now + repair_retry_pause;
            else if (repair)
                heal_retry_at_.reset();
        } catch (const std::exception&) {
            // The view could not be brought up to date: the next request's own read reports why.
        }
    }

    // Starts the next group of changes, or answers the next other request. False when none is queued.
    bool start_next(Finished& finished)
    {
        Group group;
        if (!retry_.empty()) {
            group = std::move(retry_.front());
            retry_.pop_front();
        } else {
            std::unique_lock lock(queue_mutex_);
            if (queue_.empty())
                return false;
            if (auto* other = std::get_if<Other>(&queue_.front())) {
                auto request = std::move(*other);
                queue_.pop_front();
                lock.unlock();
                answer(std::move(request), finished);
                return true;
            }
            while (!queue_.empty() && group.size() < max_batch && std::holds_alternative<Change>(queue_.front())) {
                group.push_back(std::move(std::get<Change>(queue_.front())));
                queue_.pop_front();
            }
        }
        flight_.emplace();
        for (auto& change : group) {
            flight_->requests.push_back(std::move(change.request));
            flight_->done.push_back(std::move(change.done));
            flight_->queued.push_back(change.queued);
        }
        plan_and_send();
        return true;
    }

    void answer(Other request, Finished& finished)
    {
        std::vector<PortMapping> ports;
        std::exception_ptr error = request.error;
        if (!error) {
            try {
                if (request.kind == Other::Kind::read)
                    ports = nft::published_ports(*policy_, request.task_id);
                else
                    nft::reconcile(*policy_, request.desired);
            } catch (...) {
                error = std::current_exception();
            }
        }
        record_outcome(*policy_, request.operation, Clock::now() - request.queued, error);
        finished.add(std::move(request.done), std::move(error), std::move(ports));
    }

    void plan_and_send()
    {
        auto& flight = *flight_;
        for (auto& request : flight.requests)
            request.error = nullptr;  // decided anew against the current view
        try {
            flight.plan = plan_batch(*policy_, flight.requests);
        } catch (...) {
            fail_members(std::current_exception(), true);
            return;
        }
        if (flight.plan.commit.empty()) {
            batch_committed(*policy_, flight.plan, flight.requests);
            flight.over = true;
            return;
        }
        send();
    }

    void send()
    {
        auto& flight = *flight_;
        recorder_of(*policy_).batch();
        try {
            flight.pending = backend_of(*policy_).send(flight.plan.commit, send_guard(*policy_, flight.plan));
        } catch (const Error& e) {
            refused(e, std::current_exception());
        } catch (...) {
            fail_members(std::current_exception(), false);
        }
    }

    // Reads the answer to the transaction in flight; false while it is not there.
    bool read_answer()
    {
        auto& flight = *flight_;
        try {
            if (!flight.pending->answered())
                return false;
        } catch (const Error& e) {
            flight.pending.reset();
            refused(e, std::current_exception());
            return true;
        } catch (...) {
            flight.pending.reset();
            fail_members(std::current_exception(), false);
            return true;
        }
        flight.pending.reset();
        batch_committed(*policy_, flight.plan, flight.requests);
        flight.over = true;
        return true;
    }

    void refused(const Error& refusal, std::exception_ptr thrown)
    {
        auto& flight = *flight_;
        switch (batch_refused(*policy_, flight.plan, refusal)) {
            case AfterRefusal::resend: send(); return;
            case AfterRefusal::replan:
                if (const auto wait = flight.replans.next_wait()) {
                    resume_at_ = Clock::now() + *wait;
                    return;
                }
                fail_members(std::make_exception_ptr(contention_error()), false);
                return;
            case AfterRefusal::final:
                if (flight.requests.size() > 1) {
                    split(typeid(refusal) == typeid(ruleset::TransactionTooLarge));
                    return;
                }
                fail_members(std::move(thrown), false);
                return;
        }
    }

    // The flight's requests go back to the head of the line: alone, or in halves.
    void split(bool halves)
    {
        auto& flight = *flight_;
        std::vector<Group> groups;
        const std::size_t size = halves ? (flight.requests.size() + 1) / 2 : 1;
        for (std::size_t i = 0; i < flight.requests.size(); ++i) {
            if (i % size == 0)
                groups.emplace_back();
            groups.back().push_back(Change{std::move(flight.requests[i]), std::move(flight.done[i]), flight.queued[i]});
        }
        retry_.insert(retry_.begin(), std::make_move_iterator(groups.begin()), std::make_move_iterator(groups.end()));
        flight_.reset();
    }

    // Ends the flight with `error` for the plan's members (or every request, when `all`: no plan).
    void fail_members(std::exception_ptr error, bool all)
    {
        auto& flight = *flight_;
        if (all)
            for (auto& request : flight.requests)
                request.error = error;
        flight.members_error = std::move(error);
        flight.over = true;
    }

    void finish_flight(Finished& finished)
    {
        auto& flight = *flight_;
        std::vector<bool> member(flight.requests.size(), false);
        for (const auto i : flight.plan.members)
            member[i] = true;
        for (std::size_t i = 0; i < flight.requests.size(); ++i) {
            auto error = flight.requests[i].error;
            if (!error && member[i])
                error = flight.members_error;
            const auto operation =
                flight.requests[i].unpublish ? MetricsRecorder::Operation::unpublish : MetricsRecorder::Operation::publish;
            record_outcome(*policy_, operation, Clock::now() - flight.queued[i], error);
            auto published = error ? std::vector<PortMapping>{} : std::move(flight.requests[i].published);
            finished.add(std::move(flight.done[i]), std::move(error), std::move(published));
        }
        flight_.reset();
        resume_at_.reset();
    }

    Policy policy_;
    mutable std::mutex queue_mutex_;  // queue_ and busy_: requests come from any thread
    std::deque<std::variant<Change, Other>> queue_;
    bool busy_ = false;
    // The rest is run()'s alone.
    std::deque<Group> retry_;  // split off a refused transaction: before anything queued
    std::optional<Flight> flight_;
    std::optional<Clock::time_point> resume_at_;      // a replan's pause after contention
    std::optional<Clock::time_point> heal_retry_at_;  // a failed repair's pause
};

class EngineAccess {
public:
    static PublisherEngine make(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
    {
        return PublisherEngine(std::make_unique<PublisherEngine::State>(std::move(backend), std::move(options)));
    }
};

PublisherEngine engine_on(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
{
    return EngineAccess::make(std::move(backend), std::move(options));
}

PublisherEngine::PublisherEngine(PublisherOptions options)
    : state_(std::make_unique<State>(std::make_unique<netlink::KernelBackend>(), std::move(options)))
{
}

PublisherEngine::PublisherEngine(std::unique_ptr<State> state) : state_(std::move(state)) {}

PublisherEngine::~PublisherEngine() = default;

void PublisherEngine::publish_ports(std::string task_id, ContainerAddresses container, std::vector<PortMapping> ports,
                                    Completion done)
{
    state_->checked(MetricsRecorder::Operation::publish, done, [&] {
        validate_task_id(task_id);
        const auto addresses = validation::parse_container_addresses(container);
        state_->queue_publish(std::move(task_id), addresses, ports, done);
    });
}

void PublisherEngine::publish_ports(std::string task_id, std::string container_ip, std::vector<PortMapping> ports,
                                    Completion done)
{
    state_->checked(MetricsRecorder::Operation::publish, done, [&] {
        validate_task_id(task_id);
        const auto addresses = validation::parse_container_address(container_ip);
        state_->queue_publish(std::move(task_id), addresses, ports, done);
    });
}

void PublisherEngine::unpublish_ports(std::string task_id, Completion done)
{
    state_->checked(MetricsRecorder::Operation::unpublish, done, [&] {
        validate_task_id(task_id);
        state_->push(State::Change{BatchRequest{std::move(task_id), true, {}, nullptr}, std::move(done)});
    });
}

void PublisherEngine::published_ports(std::string task_id, Completion done)
{
    state_->checked(std::nullopt, done, [&] {
        validate_task_id(task_id);
        state_->push(State::Other{State::Other::Kind::read, std::move(task_id), {}, nullptr, std::nullopt, std::move(done)});
    });
}

void PublisherEngine::reconcile(std::vector<TaskPorts> desired, Completion done)
{
    state_->push(State::Other{State::Other::Kind::reconcile, {}, std::move(desired), nullptr, std::nullopt, std::move(done)});
}

PublisherEngine::Wait PublisherEngine::run() { return state_->run(); }

bool PublisherEngine::busy() const { return state_->busy(); }

int PublisherEngine::transaction_fd() const noexcept { return backend_of(state_->policy()).answer_fd(); }

int PublisherEngine::feed_fd() const noexcept { return nft::feed_fd(state_->policy()); }

MetricsSnapshot PublisherEngine::metrics() const { return metrics_of(state_->policy()); }

const KernelFeatures& PublisherEngine::kernel_features() const noexcept { return nft::kernel_features(state_->policy()); }

void PublisherEngine::wait_for_conntrack_cleanup() { nft::wait_for_conntrack_cleanup(state_->policy()); }

}  // namespace warren::nft
