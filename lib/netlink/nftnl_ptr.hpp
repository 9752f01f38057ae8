// SPDX-License-Identifier: Apache-2.0
// Owning handles for libnftnl objects: each frees itself with the library's own destructor.
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <memory>
#include <new>

namespace warren::nft::netlink {

template <auto FreeFn>
struct Deleter {
    template <typename T>
    void operator()(T* p) const noexcept
    {
        FreeFn(p);
    }
};

using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain_free>>;
using SetPtr = std::unique_ptr<nftnl_set, Deleter<nftnl_set_free>>;
using SetElemPtr = std::unique_ptr<nftnl_set_elem, Deleter<nftnl_set_elem_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule_free>>;
using ExprPtr = std::unique_ptr<nftnl_expr, Deleter<nftnl_expr_free>>;
using GenPtr = std::unique_ptr<nftnl_gen, Deleter<nftnl_gen_free>>;
using UdataBufPtr = std::unique_ptr<nftnl_udata_buf, Deleter<nftnl_udata_buf_free>>;
using SetElemsIterPtr = std::unique_ptr<nftnl_set_elems_iter, Deleter<nftnl_set_elems_iter_destroy>>;

// libnftnl allocators return nullptr only when memory is exhausted.
template <typename Ptr>
Ptr checked(typename Ptr::pointer p)
{
    if (!p)
        throw std::bad_alloc();
    return Ptr(p);
}

}  // namespace warren::nft::netlink
