// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION):
// every other file only includes their declarations, which keeps 2-core builds tolerable.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
