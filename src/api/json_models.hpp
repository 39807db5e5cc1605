#pragma once
// JSON models of http-api.md §4.
#include <boost/json/object.hpp>

#include "cxg/store/store.hpp"

namespace cxg::api {

boost::json::object executor_json(const store::Executor& e);
boost::json::object connected_executor_json(const store::BoundExecutor& b);

}  // namespace cxg::api
