// SPDX-License-Identifier: Apache-2.0
#include "netlink/kernel_backend.hpp"

#include "backoff.hpp"
#include "kernel_error.hpp"
#include "netlink/batch.hpp"
#include "netlink/change_feed.hpp"
#include "netlink/decode.hpp"
#include "netlink/encode.hpp"
#include "netlink/nftnl_ptr.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>

namespace warren::nft::netlink {

using namespace ruleset;

namespace {

// Debian 12's uapi headers (6.1) predate these message types (Linux 6.3).
constexpr std::uint16_t nft_msg_destroytable = 26;

struct Refusal {
    Ack ack;
    // Reported after every message was answered: the kernel refused to commit the whole batch.
    // nfnetlink reports such errors on the first message's seq, so the seq alone would blame it.
    bool at_commit;
};

struct CollectedReplies {
    std::vector<Refusal> errors;       // every non-zero ack, in arrival order
    std::vector<std::uint32_t> acked;  // seqs acknowledged with error 0
};

// Reads the replies to `batch` until it is over. nf_tables processes a batch inside sendmsg(), so
// every reply is already queued once it was sent. The batch is over when
//   - BATCH_END is answered (acked on Linux 6.10+ when asked): nothing of the batch follows that
//     ack, so nothing is left to read;
//   - the batch header is refused (a stale generation id gets no other reply; a failed commit is
//     reported there too), or
//   - the last message is answered and either errors were reported (the kernel then aborts without
//     answering BATCH_END) or the kernel is not going to ack BATCH_END anyway, or
//   - an error arrives after the last message was answered (defensive: the kernels we know report
//     commit failures on the header), or
//   - errors arrived and nothing more is queued (the kernel gave up early, e.g. out of memory).
// Unless BATCH_END was answered, whatever else is queued is drained, so that no reply is left to
// confuse the next exchange. Either BATCH_END (when `end_acked`) or the last message must carry NLM_F_ACK.
class ReplyCollector {
public:
    ReplyCollector(const Batch& batch, bool end_acked)
        : batch_(batch), last_seq_(batch.messages().back().seq), end_acked_(end_acked)
    {
    }

    // Reads what the socket holds; with `wait`, waits for the kernel until the batch is over.
    // Returns whether it is.
    bool read(Socket& socket, bool wait)
    {
        while (!done_) {
            const auto data = socket.receive(!wait || !replies_.errors.empty());
            if (!data) {
                if (replies_.errors.empty())
                    return false;  // not answered yet
                done_ = true;
                break;
            }
            scan(*data);
        }
        if (!end_answered_)
            while (auto more = socket.receive(true))
                scan(*more);
        end_answered_ = true;  // drained: nothing to read for it again
        return true;
    }

    const CollectedReplies& replies() const noexcept { return replies_; }

private:
    void scan(std::span<const std::uint8_t> data)
    {
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(data.data());
        int remaining = static_cast<int>(data.size());
        for (; message_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
            if (nlh->nlmsg_type != NLMSG_ERROR)
                continue;  // echoes and notifications
            const Ack ack = parse_ack(nlh);
            if (ack.seq < batch_.begin_seq() || ack.seq > batch_.end_seq())
                continue;  // a straggler from an earlier exchange
            if (ack.error != 0) {
                replies_.errors.push_back(Refusal{ack, last_answered_});
                done_ = done_ || last_answered_ || ack.seq == batch_.begin_seq();
            } else {
                replies_.acked.push_back(ack.seq);
            }
            if (ack.seq == last_seq_) {
                last_answered_ = true;
                done_ = done_ || !end_acked_ || !replies_.errors.empty();
            }
            if (ack.seq == batch_.end_seq())
                end_answered_ = done_ = true;
        }
    }

    const Batch& batch_;
    const std::uint32_t last_seq_;
    const bool end_acked_;
    CollectedReplies replies_;
    bool last_answered_ = false;
    bool end_answered_ = false;
    bool done_ = false;
};

CollectedReplies collect(Socket& socket, const Batch& batch, bool end_acked)
{
    ReplyCollector collector(batch, end_acked);
    collector.read(socket, true);
    return collector.replies();
}

// Runs a request that the kernel answers with messages and then NLMSG_DONE (dumps) or an ack.
// Returns 0 or the errno the kernel answered with; EINTR means a dump was interrupted by a change.
int request(Socket& socket, std::uint16_t type, std::uint16_t family, std::uint16_t flags,
            const std::function<void(nlmsghdr*)>& build, const std::function<void(const nlmsghdr*)>& on_message)
{
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    const std::uint32_t seq = socket.next_seq();
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), type, family, flags | NLM_F_ACK, seq);
    build(nlh);
    socket.send({buffer.data(), nlh->nlmsg_len});

    bool interrupted = false;
    const int result = receive_answer(socket, seq, [&](const nlmsghdr* reply) {
        if (reply->nlmsg_flags & NLM_F_DUMP_INTR)
            interrupted = true;
        on_message(reply);
    });
    if (result)
        return result;
    return interrupted ? EINTR : 0;
}

// The GETSETELEM requests sent in one datagram, one key each. The kernel handles every request of
// a datagram in turn and queues their answers (a NEWSETELEM message and an ack, or an error ack;
// under 1 KiB each, trimmed) on the socket before we read any, dropping what does not fit its
// receive buffer (8 MiB where allowed, else twice net.core.rmem_max: 416 KiB by default), which
// then reads as ENOBUFS: a datagram's answers must fit.
constexpr std::size_t keys_per_datagram = 64;
// The longest GETSETELEM request of one key: names and key at their longest.
constexpr std::size_t max_key_request_bytes = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg)) +
                                              2 * MNL_ALIGN(sizeof(nlattr) + NFT_NAME_MAXLEN) + 3 * sizeof(nlattr) +
                                              MNL_ALIGN(sizeof(nlattr) + NFT_DATA_VALUE_MAXLEN);

// Whether a key is listed twice. A hash set's table grows and shrinks behind a dump's back (a
// rhashtable, resized by a kernel worker after a change, or after a batch that was aborted, which
// leaves the generation as it was). A dump continues where its last datagram ended by counting
// elements, so one that spans a resize lists some elements twice and leaves others out, and the
// kernel marks it neither interrupted nor changed. Every walk of the table visits each element, so
// a dump in which no key repeats holds them all. Sets of ranges (rbtree, pipapo) are not resized.
bool repeats_a_key(const std::vector<Element>& elements)
{
    std::unordered_set<std::string_view> keys;
    keys.reserve(elements.size());
    for (const auto& element : elements)
        if (!keys.emplace(reinterpret_cast<const char*>(element.key.data()), element.key.size()).second)
            return true;
    return false;
}

// Reads the parts of one table. Each method returns false when a concurrent change interrupted it
// or made its dump inconsistent (the caller starts over) and throws Error for anything else the
// kernel refused.
class TableReader {
public:
    TableReader(Socket& socket, const Table& table)
        : socket_(socket),
          table_(table),
          family_(static_cast<std::uint16_t>(table.family)),
          where_(" of table " + display_name(table))
    {
    }

    // Whether the table exists, and its flags and owner. Reading is allowed even where the table is
    // owned by another process: the kernel checks the owner only on changes.
    bool table(TableSnapshot& out)
    {
        auto t = checked<TablePtr>(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table_.name.c_str());
        const int err = request(
            socket_, NFT_MSG_GETTABLE, family_, 0, [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); },
            [&](const nlmsghdr* nlh) { decode_table(nlh, socket_.portid(), out); });
        out.exists = err == 0;
        return err == ENOENT || finished(err, "read table");
    }

    // Asks for each chain by name: a dump would list every chain of the family, Docker's and
    // kube-proxy's included.
    bool chains(std::span<const std::string> names, std::map<std::string, Chain>& out)
    {
        for (const auto& name : names) {
            auto filter = checked<ChainPtr>(nftnl_chain_alloc());
            nftnl_chain_set_str(filter.get(), NFTNL_CHAIN_TABLE, table_.name.c_str());
            nftnl_chain_set_str(filter.get(), NFTNL_CHAIN_NAME, name.c_str());
            std::optional<Chain> found;
            const int err = request(
                socket_, NFT_MSG_GETCHAIN, family_, 0, [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, filter.get()); },
                [&](const nlmsghdr* nlh) {
                    if (auto chain = decode_chain(nlh))
                        found = std::move(chain);
                });
            if (err == ENOENT)
                continue;  // this chain is missing; the table may be too, the generation will tell
            if (!finished(err, "read chain " + name))
                return false;
            if (found)
                out.emplace(name, std::move(*found));
        }
        return true;
    }

    bool rules(std::map<std::string, std::vector<std::string>>& comments, std::map<std::string, std::vector<Rule>>& out)
    {
        auto filter = checked<RulePtr>(nftnl_rule_alloc());
        nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, table_.name.c_str());
        return finished(request(
                            socket_, NFT_MSG_GETRULE, family_, NLM_F_DUMP,
                            [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, filter.get()); },
                            [&](const nlmsghdr* nlh) {
                                if (auto rule = decode_rule(nlh, table_.name)) {
                                    comments[rule->chain].push_back(rule->comment);
                                    out[rule->chain].push_back(std::move(*rule));
                                }
                            }),
                        "list rules");
    }

    bool sets(std::map<std::string, SetShape>& out)
    {
        auto filter = checked<SetPtr>(nftnl_set_alloc());
        nftnl_set_set_str(filter.get(), NFTNL_SET_TABLE, table_.name.c_str());
        return finished(request(
                            socket_, NFT_MSG_GETSET, family_, NLM_F_DUMP,
                            [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, filter.get()); },
                            [&](const nlmsghdr* nlh) {
                                if (auto set = decode_set(nlh, table_.name))
                                    out[set->first] = set->second;
                            }),
                        "list sets");
    }

    bool elements(std::span<const std::string> names, const std::map<std::string, SetShape>& existing,
                  std::map<std::string, std::vector<Element>>& out)
    {
        for (const auto& name : names) {
            if (!existing.contains(name))
                continue;
            auto& elements = out[name];
            auto s = checked<SetPtr>(nftnl_set_alloc());
            nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table_.name.c_str());
            nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
            nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, family_);
            const int err = request(
                socket_, NFT_MSG_GETSETELEM, family_, NLM_F_DUMP,
                [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); },
                [&](const nlmsghdr* nlh) { decode_elements(nlh, name, elements); });
            if (!finished(err, "list elements of set " + name))
                return false;
            if (!(existing.at(name).flags & NFT_SET_INTERVAL) && repeats_a_key(elements))
                return false;
        }
        return true;
    }

    // Whether a dump spanned a generation change (it was read to its end all the same).
    bool interrupted() const noexcept { return interrupted_; }

private:
    // EINTR: a dump spanned a generation change; ENOENT: the object vanished while we read.
    bool finished(int err, const std::string& what)
    {
        if (err == EINTR) {
            interrupted_ = true;
            return true;
        }
        if (err == ENOENT)
            return false;
        if (err)
            throw kernel_error(err, what + where_);
        return true;
    }

    Socket& socket_;
    const Table& table_;
    std::uint16_t family_;
    std::string where_;
    bool interrupted_ = false;
};

// "commit transaction on table ip warren and ip6 warren"
std::string commit_name(const Commit& commit)
{
    std::string names;
    for (const auto& part : commit.parts())
        names += (names.empty() ? "" : " and ") + display_name(part.table());
    return "commit transaction on table " + names;
}

// What a host allows the send buffer to grow to without CAP_NET_ADMIN in the initial user namespace.
std::optional<std::size_t> wmem_max()
{
    std::ifstream file("/proc/sys/net/core/wmem_max");
    std::size_t bytes = 0;
    if (file >> bytes)
        return bytes;
    return std::nullopt;
}

// The refusal of a batch of `bytes` that the socket cannot send, naming the limit and how to raise it.
TransactionTooLarge too_large(const Socket& socket, std::size_t bytes, const std::string& operation,
                              std::optional<std::size_t> limit)
{
    std::string detail = "the batch is " + std::to_string(bytes) + " bytes and the netlink socket sends at most " +
                         std::to_string(socket.send_capacity()) + " bytes at once";
    if (socket.send_buffer_forced()) {
        detail += ", the most the kernel allows; change fewer ports at once";
    } else {
        // The kernel doubles what SO_SNDBUF asks for and keeps 32 bytes of it back.
        constexpr std::size_t page = 4096;
        const std::size_t needed = ((bytes + 32 + 1) / 2 + page - 1) / page * page;
        const auto host = wmem_max();
        detail +=
            ": its send buffer may not grow further (SO_SNDBUFFORCE needs CAP_NET_ADMIN in the initial user "
            "namespace, and SO_SNDBUF stops at net.core.wmem_max";
        if (limit)
            detail += ", taken as " + std::to_string(*limit) + " by the backend's options";
        else if (host)
            detail += " = " + std::to_string(*host);
        detail += "); raise it with `sysctl -w net.core.wmem_max=" + std::to_string(needed) +
                  "` (in the network namespace, on kernels where it is per namespace) or change fewer ports at once";
    }
    return TransactionTooLarge(kernel_error(EMSGSIZE, operation, detail + "; nothing was changed"));
}

// Which operation of which part a batch message's operation index stands for: parts are numbered
// one after the other (encode()'s `first_index`).
std::string describe_failure(const Commit& commit, const Batch& batch, const Refusal& refusal)
{
    const Ack& ack = refusal.ack;
    const auto* message = batch.message(ack.seq);
    const auto whole = [&] { return commit_name(commit); };
    if (refusal.at_commit || !message)
        return whole();
    std::size_t which = 0;
    if (message->operations.size() > 1 && ack.offset)
        which = element_at_offset(batch.header(*message), *ack.offset).value_or(0);
    std::size_t index = message->operations[which];
    for (const auto& part : commit.parts()) {
        if (index < part.operations().size())
            return describe(part.table(), part.operations()[index]);
        index -= part.operations().size();
    }
    return whole();
}

// A table name nobody else uses, for the start-up probes.
std::string probe_table_name()
{
    std::random_device random;
    return "warren-nft-probe-" + std::to_string(random()) + std::to_string(random());
}

// Ends the batch, sends it and reads every reply to it. A batch longer than the socket can send,
// even with its send buffer raised as far as allowed, is not sent: `refuse` says why.
template <typename Refuse>  // TransactionTooLarge(std::size_t bytes)
void end_and_send(Socket& socket, Batch& batch, bool batch_acks, const Refuse& refuse)
{
    // Where the kernel acks BATCH_END (Linux 6.10+), that one ack says the commit is done and is all
    // a successful batch gets back: one receive. Older kernels never answer BATCH_END, and waiting
    // for it would hang forever; there the last message's ack marks the end.
    if (!batch_acks)
        batch.request_ack_of_last_message();
    batch.end(batch_acks);
    socket.skip_to(batch.next_seq());
    if (!socket.make_room(batch.bytes().size()))
        throw refuse(batch.bytes().size());
    socket.send(batch.bytes());
}

template <typename Refuse>
CollectedReplies send_batch(Socket& socket, Batch& batch, bool batch_acks, const Refuse& refuse)
{
    end_and_send(socket, batch, batch_acks, refuse);
    return collect(socket, batch, batch_acks);
}

}  // namespace

KernelBackend::KernelBackend(const Options& options) : send_buffer_limit_(options.send_buffer_limit), features_(probe())
{
    if (send_buffer_limit_)
        socket_.limit_send_buffer(*send_buffer_limit_);
}

KernelFeatures KernelBackend::probe()
{
    // One throwaway batch tells both features apart: it asks for acks of the batch header and
    // trailer, and destroys a table that does not exist. Linux 6.10+ acks the header and trailer;
    // Linux 6.3+ answers DESTROY of a missing table with success, older kernels with EINVAL.
    Batch batch(socket_.next_seq(), std::nullopt, true);
    auto table = checked<TablePtr>(nftnl_table_alloc());
    // A name nobody else uses: on kernels with DESTROY the table would really be destroyed.
    const std::string probe_table = probe_table_name();
    nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, probe_table.c_str());
    auto* nlh = batch.start_zeroed(nft_msg_destroytable, NFPROTO_IPV4, NLM_F_ACK);
    nftnl_table_nlmsg_build_payload(nlh, table.get());
    batch.finish({});
    const std::uint32_t probe_seq = batch.messages().back().seq;
    batch.end(true);
    socket_.skip_to(batch.next_seq());
    socket_.send(batch.bytes());
    // Whether BATCH_END is acked is what we are finding out: stop at the probe's own answer and
    // let the drain pick up the trailer's ack, if any.
    const auto replies = collect(socket_, batch, false);

    KernelFeatures features;
    for (const auto& [error, at_commit] : replies.errors) {
        if (error.seq == batch.begin_seq() || error.error == EPERM || error.error == EACCES)
            throw kernel_error(error.error, "probe nf_tables support");
    }
    for (const auto seq : replies.acked) {
        if (seq == probe_seq)
            features.destroy_messages = true;
        if (seq == batch.begin_seq() || seq == batch.end_seq())
            features.batch_acks = true;
    }
    features.map_lookups = probe_map_lookups(features.batch_acks);
    return features;
}

bool KernelBackend::probe_map_lookups(bool batch_acks)
{
    // A batch that builds a table with a map and a rule looking a key up in it without loading the
    // value, then deletes a chain that does not exist: the kernel judges every message, then
    // aborts the whole batch on the last one, so nothing of it is ever committed.
    const Table table{Family::ip, probe_table_name()};
    const Set map{"m", {{7, 4}}, {{7, 4}}, false, 1};
    Transaction tx(table);
    tx.add(table).add(map).add(Chain{"c", std::nullopt});
    tx.add(Rule{"c", {expr::Meta{NFT_META_L4PROTO, Reg::r1}, expr::Lookup{"m", 1, Reg::r1, std::nullopt}}, ""});
    const std::size_t rule = tx.operations().size() - 1;
    tx.remove(Chain{"missing", std::nullopt});
    Batch batch(socket_.next_seq(), std::nullopt, false);
    encode(batch, tx);
    const auto replies = send_batch(socket_, batch, batch_acks, [&](std::size_t bytes) {
        return too_large(socket_, bytes, "probe nf_tables support", std::nullopt);
    });
    const auto carries = [&](std::uint32_t seq, std::size_t operation) {
        const auto* message = batch.message(seq);
        return message &&
               std::find(message->operations.begin(), message->operations.end(), operation) != message->operations.end();
    };
    // Only these answers are understood: the rule refused with EINVAL (no such lookups) or accepted,
    // and the missing chain refused with ENOENT. Anything else is a kernel we do not know.
    bool aborted = false, supported = true;
    for (const auto& [error, at_commit] : replies.errors) {
        if (error.error == EINVAL && carries(error.seq, rule))
            supported = false;
        else if (error.error == ENOENT && carries(error.seq, rule + 1))
            aborted = true;
        else
            throw kernel_error(error.error, "probe nf_tables support", "a lookup in a map without its value");
    }
    if (!aborted)
        throw kernel_error(EPROTO, "probe nf_tables support", "the probe batch was not refused as it must be");
    return supported;
}

std::uint32_t KernelBackend::generation()
{
    std::uint32_t id = 0;
    const int err = request(
        socket_, NFT_MSG_GETGEN, AF_UNSPEC, 0, [](nlmsghdr*) {},
        [&](const nlmsghdr* nlh) { id = decode_generation(nlh).value_or(id); });
    if (err)
        throw kernel_error(err, "read ruleset generation");
    // 0 is never a generation the kernel reports; as a batch's generation it disables the check.
    if (id == 0)
        throw kernel_error(EPROTO, "read ruleset generation", "the kernel's answer carried no generation id");
    return id;
}

TableSnapshot KernelBackend::snapshot(const Table& table, std::span<const std::string> chains,
                                      std::span<const std::string> element_sets)
{
    return snapshot_following(table, chains, element_sets, {});
}

TableSnapshot KernelBackend::snapshot_following(const Table& table, std::span<const std::string> chains,
                                                std::span<const std::string> element_sets, const Unchanged& unchanged)
{
    // Retried, with pauses, when another writer commits while we read.
    for (Backoff backoff; backoff.next();) {
        TableSnapshot snap;
        snap.generation = generation();
        TableReader reader(socket_, table);
        const bool read = reader.table(snap) &&
                          (!snap.exists || (reader.chains(chains, snap.chains) && reader.rules(snap.rule_comments, snap.rules) &&
                                            reader.sets(snap.sets) && reader.elements(element_sets, snap.sets, snap.elements)));
        if (!read)
            continue;
        // Consistent if nobody committed while we read, or nobody committed to this table.
        const auto end = generation();
        if (end == snap.generation && !reader.interrupted())
            return snap;
        if (unchanged && unchanged(snap.generation, end)) {
            snap.generation = end;
            return snap;
        }
    }
    throw Error(errc::ruleset_changed,
                "read table " + display_name(table) + ": the ruleset kept changing while it was read; retry later");
}

// A commit sent, its answer read as it comes.
class KernelBackend::Pending final : public PendingCommit {
public:
    Pending(KernelBackend& backend, const Commit& commit, std::optional<std::uint32_t> expected_generation)
        : socket_(backend.socket_),
          commit_(commit),
          batch_(socket_.next_seq(), expected_generation, false),
          batch_acks_(backend.features_.batch_acks)
    {
        std::size_t first_index = 0;
        for (const auto& part : commit.parts()) {
            encode(batch_, part, first_index);
            first_index += part.operations().size();
        }
        end_and_send(socket_, batch_, batch_acks_, [&](std::size_t bytes) {
            return too_large(socket_, bytes, commit_name(commit), backend.send_buffer_limit_);
        });
        collector_.emplace(batch_, batch_acks_);
    }

    bool answered() override { return read(false); }

    // Reads the answer (waiting for it when `wait`); throws the kernel's refusal.
    bool read(bool wait)
    {
        if (!collector_->read(socket_, wait))
            return false;
        const auto& replies = collector_->replies();
        if (replies.errors.empty())
            return true;
        // nf_tables reports every refused message, then aborts the whole batch; the first refusal is
        // the cause, the rest often follow from it.
        const Ack& first = replies.errors.front().ack;
        std::string detail;
        if (first.offset)
            detail = "kernel points at attribute offset " + std::to_string(*first.offset);
        if (replies.errors.size() > 1)
            detail += (detail.empty() ? "" : "; ") + std::to_string(replies.errors.size() - 1) + " more message(s) refused";
        detail += (detail.empty() ? "" : "; ") + std::string("nothing was changed");
        throw kernel_error(first.error, describe_failure(commit_, batch_, replies.errors.front()), detail);
    }

private:
    Socket& socket_;
    const Commit& commit_;
    Batch batch_;
    const bool batch_acks_;
    std::optional<ReplyCollector> collector_;  // refers to batch_, once it is complete
};

std::vector<ruleset::Element> KernelBackend::elements_of(const Table& table, const std::string& set,
                                                         std::span<const ruleset::Bytes> keys)
{
    const std::string what = "read elements of set " + set + " of table " + display_name(table);
    if (set.empty() || set.size() >= NFT_NAME_MAXLEN || table.name.empty() || table.name.size() >= NFT_NAME_MAXLEN)
        throw Error(errc::invalid_argument, what + ": names are 1 to " + std::to_string(NFT_NAME_MAXLEN - 1) + " bytes");
    for (const auto& key : keys)
        if (key.empty() || key.size() > NFT_DATA_VALUE_MAXLEN)
            throw Error(errc::invalid_argument, what + ": a key of " + std::to_string(key.size()) + " bytes; keys are 1 to " +
                                                    std::to_string(NFT_DATA_VALUE_MAXLEN) + " bytes");
    const auto family = static_cast<std::uint16_t>(table.family);
    std::vector<ruleset::Element> out;
    std::vector<std::uint8_t> buffer(keys_per_datagram * max_key_request_bytes);
    // One request per key: a request of several keys stops at the first key the set does not hold,
    // and a port that holds no slots would cost a request per slot. Each request of a datagram is
    // answered on its own: ENOENT for a key the set does not hold, or for every key when the table
    // or set does not exist.
    for (std::size_t next = 0; next < keys.size(); next += keys_per_datagram) {
        const auto asked = keys.subspan(next, std::min(keys.size() - next, keys_per_datagram));
        const std::uint32_t first_seq = socket_.next_seq();
        std::size_t used = 0;
        for (std::size_t i = 0; i < asked.size(); ++i) {
            const auto seq = i == 0 ? first_seq : socket_.next_seq();
            nlmsghdr* nlh =
                nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data() + used), NFT_MSG_GETSETELEM, family, NLM_F_ACK, seq);
            put_element_keys(nlh, table, set, asked.subspan(i, 1));
            used += MNL_ALIGN(nlh->nlmsg_len);
        }
        socket_.send({buffer.data(), used});
        std::vector<std::size_t> answered(asked.size());
        const auto acks = receive_acks(socket_, first_seq, asked.size(), [&](std::size_t index, const nlmsghdr* nlh) {
            ++answered[index];
            decode_elements(nlh, set, out);
        });
        for (std::size_t i = 0; i < acks.size(); ++i) {
            const int error = acks[i].error;
            if (error == ENOENT)
                continue;
            const auto key = "key " + std::to_string(next + i) + " of those asked for";
            // EINVAL for a key: one of another length than the set's keys.
            if (error == EINVAL)
                throw Error(errc::invalid_argument, kernel_error(error, what, "the kernel refused " + key).what(), error, what);
            if (error)
                throw kernel_error(error, what, "the kernel refused " + key);
            if (answered[i] != 1)
                throw kernel_error(EPROTO, what,
                                   "the kernel answered " + key + " with " + std::to_string(answered[i]) + " messages");
        }
    }
    return out;
}

void KernelBackend::commit(const Commit& commit, std::optional<std::uint32_t> expected_generation)
{
    if (!commit.empty())
        Pending(*this, commit, expected_generation).read(true);
}

std::unique_ptr<PendingCommit> KernelBackend::send(const Commit& commit, std::optional<std::uint32_t> expected_generation)
{
    if (commit.empty())
        return Backend::send(commit, expected_generation);
    return std::make_unique<Pending>(*this, commit, expected_generation);
}

std::unique_ptr<ChangeFeed> KernelBackend::follow(std::span<const Table> tables)
{
    return std::make_unique<KernelChangeFeed>(std::vector<Table>(tables.begin(), tables.end()), socket_.portid());
}

std::size_t KernelBackend::forget_flows(std::span<const ruleset::FlowMatch> matches)
{
    if (matches.empty())
        return 0;
    if (!conntrack_)
        conntrack_.emplace();
    std::vector<netlink::FlowMatch> flows;
    flows.reserve(matches.size());
    const auto endpoint = [](const ruleset::FlowEndpoint& e) { return netlink::Endpoint{e.address, e.port}; };
    for (const auto& match : matches) {
        std::vector<netlink::Endpoint> spared;
        std::transform(match.spared.begin(), match.spared.end(), std::back_inserter(spared), endpoint);
        flows.push_back(netlink::FlowMatch{
            match.family == Family::ip ? AF_INET : AF_INET6, match.l4proto, match.port, match.address, match.unreplied_only,
            match.reply_source ? std::optional(endpoint(*match.reply_source)) : std::nullopt, std::move(spared)});
    }
    return conntrack_->forget(flows);
}

void KernelBackend::route_localnet_towards(const std::array<std::uint8_t, 4>& container) { enable_route_localnet(container); }

std::vector<layout::Address> KernelBackend::host_addresses(std::span<const layout::Address> among)
{
    const auto configured = netlink::host_addresses();
    std::vector<layout::Address> present;
    for (const auto& address : among)
        if (std::find(configured.begin(), configured.end(), address) != configured.end())
            present.push_back(address);
    return present;
}

std::vector<SocketEntry> KernelBackend::receiving_sockets(Protocol protocol, std::span<const layout::Family> families,
                                                          PortFilter ports)
{
    if (!sock_diag_)
        sock_diag_.emplace();
    return sock_diag_->receiving(protocol, families, ports);
}

}  // namespace warren::nft::netlink
