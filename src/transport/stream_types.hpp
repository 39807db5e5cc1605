#pragma once
// The two byte streams a connection can run over. Sessions are templates on these, compiled
// once each (explicit instantiation at the end of each session .cpp), as in Beast's
// "flex" server example: one code path, TLS or not decided by the listener.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <type_traits>

namespace cxg::transport {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

}  // namespace cxg::transport
