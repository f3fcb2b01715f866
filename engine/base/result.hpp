// sta::result<T>: the one place that chooses the error-carrying return type.
// Every module boundary returns result<T> (or error_code); moving to
// std::expected later changes only this file. Any thread.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace sta {

using error_code = boost::system::error_code;

template <class T, class E = error_code>
using result = boost::system::result<T, E>;

}  // namespace sta
