// Operator commands over the admin API (http-api §2.5) and the internal API (§2.6):
//   cxg executors list|show|create|delete, cxg bindings list|add|remove, cxg revoke.
// Tables for people by default, --json for scripts (the API's own JSON, unchanged).
#include "operator_commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/common/time_format.hpp"
#include "cxg/config/config.hpp"
#include "cxg/config/values.hpp"
#include "http_api.hpp"

namespace cxg::cli {
namespace {

namespace json = boost::json;

struct OpOptions : GatewayOptions {
  std::string workspace, exe_id, user, name, display_name, description, default_cwd, remote_url, exp, turn;
  bool json_out = false, is_default = false, static_token = false;
};

// ----------------------------------------------------------------------------- helpers

std::vector<std::string> admin_headers() {
  std::vector<std::string> h;
  if (auto s = getenv_str("CXG_AGENTSERVER_INTERNAL_SECRET"); !s.empty()) h.push_back("X-Internal-Secret: " + s);
  return h;
}

// Runs an admin request; a non-2xx answer becomes "cxg: <what>: HTTP <status> <error>".
ApiResponse admin(const OpOptions& o, const std::string& method, const std::string& path, const std::string& what,
                  const std::string& body = {}, std::vector<std::string> extra = {}) {
  auto headers = admin_headers();
  for (auto& e : extra) headers.push_back(std::move(e));
  auto r = api_request(o.resolved_url(), method, path, headers, body, TlsOptions{o.resolved_ca_file(), o.insecure});
  if (r.status >= 200 && r.status < 300) return r;
  std::string msg = what + ": " + api_error_text(r);
  if (r.status == 401)
    msg += getenv_str("CXG_AGENTSERVER_INTERNAL_SECRET").empty()
               ? " (set CXG_AGENTSERVER_INTERNAL_SECRET; without it the admin API answers loopback clients only)"
               : " (CXG_AGENTSERVER_INTERNAL_SECRET does not match the gateway's)";
  throw CliError(msg, kExitFailure);
}

json::value parse_json(const ApiResponse& r, const std::string& what) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec) throw CliError(what + ": the gateway answered with invalid JSON", kExitFailure);
  return v;
}

std::string str(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool boolean(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_bool() && v->as_bool();
}

// RFC 3339 (as the API writes it) → Unix ms; nullopt if unparsable.
std::optional<std::int64_t> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  char frac[16] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return std::nullopt;
  if (std::sscanf(s.c_str() + 19, ".%3[0-9]", frac) == 1) {
    std::string f(frac);
    while (f.size() < 3) f += '0';
    ms = std::stoi(f);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

// "3m ago", "2h ago", "5d ago", "just now"; "-" when absent.
std::string ago(const std::string& rfc3339) {
  if (rfc3339.empty()) return "-";
  const auto t = parse_rfc3339(rfc3339);
  if (!t) return rfc3339;
  const std::int64_t secs = (SystemClock::instance().now_unix_ms() - *t) / 1000;
  if (secs < 5) return "just now";
  if (secs < 60) return std::to_string(secs) + "s ago";
  if (secs < 3600) return std::to_string(secs / 60) + "m ago";
  if (secs < 86400) return std::to_string(secs / 3600) + "h ago";
  return std::to_string(secs / 86400) + "d ago";
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w(header.size());
  auto width = [](const std::string& s) {  // UTF-8 code points
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (std::size_t i = 0; i < header.size(); ++i) w[i] = width(header[i]);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(w[i] - width(cells[i]) + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::cout << out << '\n';
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string dash(std::string s) { return s.empty() ? "-" : s; }

void check_exe_id(const std::string& id) {
  if (!ids::is_valid_exe_id(id)) throw CliError("invalid executor id '" + id + "' (expected [A-Za-z0-9_-]{1,256})", kExitUsage);
}

// ----------------------------------------------------------------------------- executors / bindings

int list_workspace(OpOptions& o) {
  const std::string what = "list executors of workspace " + o.workspace;
  auto r = admin(o, "GET", "/api/codex-exec/workspaces/" + url_segment(o.workspace) + "/executors", what);
  auto v = parse_json(r, what);
  if (o.json_out) {
    std::cout << json::serialize(v) << '\n';
    return 0;
  }
  if (!v.is_array()) throw CliError(what + ": unexpected answer " + r.body.substr(0, 200), kExitFailure);
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& x = e.as_object();
    rows.push_back({str(x, "exe_id"), dash(str(x, "name")), boolean(x, "is_online") ? "online" : "offline",
                    dash(str(x, "codex_version")), dash(str(x, "os")), dash(str(x, "protocol")),
                    boolean(x, "is_online") ? "now" : ago(str(x, "last_seen_at")), boolean(x, "is_default") ? "yes" : ""});
  }
  if (rows.empty()) {
    std::cout << "No executors are bound to workspace " << o.workspace << ".\n";
    return 0;
  }
  print_table({"EXE_ID", "NAME", "STATUS", "CODEX", "OS", "PROTOCOL", "LAST SEEN", "DEFAULT"}, rows);
  return 0;
}

int show_executor(OpOptions& o) {
  check_exe_id(o.exe_id);
  const std::string what = "show executor " + o.exe_id;
  auto r = admin(o, "GET", "/api/codex-exec/executors/" + o.exe_id, what);
  auto v = parse_json(r, what);
  if (o.json_out || !v.is_object()) {
    std::cout << json::serialize(v) << '\n';
    return 0;
  }
  const auto& x = v.as_object();
  auto row = [](const char* k, const std::string& val) {
    std::printf("%-16s %s\n", k, val.c_str());
  };
  auto when = [&](const char* k) {
    const std::string t = str(x, k);
    return t.empty() ? std::string("-") : t + " (" + ago(t) + ")";
  };
  row("exe_id:", str(x, "exe_id"));
  row("status:", boolean(x, "is_online") ? "online" : "offline");
  row("user:", str(x, "user_id"));
  row("display name:", dash(str(x, "display_name")));
  row("description:", dash(str(x, "description")));
  row("default cwd:", dash(str(x, "default_cwd")));
  row("codex version:", dash(str(x, "codex_version")));
  row("os:", dash(str(x, "os")));
  row("protocol:", dash(str(x, "protocol")));
  row("client ip:", dash(str(x, "client_ip")));
  row("user agent:", dash(str(x, "client_ua")));
  row("registered:", when("registered_at"));
  row("last seen:", when("last_seen_at"));
  row("connected:", when("connected_at"));
  row("disconnected:", when("disconnected_at"));
  return 0;
}

// The static validator's token file: CXG_STATIC_TOKENS_FILE, else <database dir>/cxg-tokens.
std::string static_tokens_file(const OpOptions& o) {
  if (auto f = getenv_str("CXG_STATIC_TOKENS_FILE"); !f.empty()) return f;
  std::string url = o.database.empty() ? getenv_str("CXG_DATABASE_URL") : o.database;
  if (url.empty()) url = "sqlite://./cxg.db";
  try {
    const auto db = config::parse_database_url(url);
    if (db.kind == config::StoreKind::sqlite) return (db.sqlite_dir.empty() ? std::string(".") : db.sqlite_dir) + "/cxg-tokens";
  } catch (const config::ConfigError&) {
  }
  return {};
}

bool append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return false;
  std::string data = line + "\n";
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

int create_executor(OpOptions& o) {
  if (!o.exe_id.empty()) check_exe_id(o.exe_id);
  if (!o.workspace.empty() && o.name.empty()) o.name = o.exe_id.empty() ? "" : o.exe_id;
  json::object body;
  if (!o.exe_id.empty()) body["exe_id"] = o.exe_id;
  if (!o.display_name.empty()) body["display_name"] = o.display_name;
  if (!o.description.empty()) body["description"] = o.description;
  if (!o.default_cwd.empty()) body["default_cwd"] = o.default_cwd;
  auto r = admin(o, "POST", "/api/codex-exec/register", "create executor", json::serialize(body), {"X-User-Id: " + o.user});
  const auto v = parse_json(r, "create executor");
  const std::string exe = v.is_object() ? str(v.as_object(), "exe_id") : "";
  if (exe.empty()) throw CliError("create executor: unexpected answer " + r.body.substr(0, 200), kExitFailure);
  std::string name = o.name.empty() ? exe : o.name;
  if (!o.workspace.empty()) {
    json::object b{{"exe_id", exe}, {"name", name}};
    if (o.is_default) b["is_default"] = true;
    admin(o, "POST", "/api/codex-exec/workspaces/" + url_segment(o.workspace) + "/executors",
          "bind " + exe + " to workspace " + o.workspace, json::serialize(b));
  }
  std::string token, token_file, token_note;
  if (o.static_token) {
    token = "cxg-reg-" + crypto::random_token(24);
    token_file = static_tokens_file(o);
    if (!token_file.empty() && append_line(token_file, token + " " + o.user))
      token_note = "Registration token " + token + " added to " + token_file + " (the gateway re-reads it within 5 s).";
    else
      token_note = "Registration token " + token + ": add the line \"" + token + " " + o.user +
                   "\" to the static validator's token file (CXG_STATIC_TOKENS_FILE).";
  }
  const std::string remote = http_base_url(o.remote_url.empty() ? o.resolved_url() : o.remote_url);
  const std::string env = token.empty() ? "" : "CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN=" + token + " ";
  const std::string cmd_new = env + "codex exec-server --remote " + remote + " --environment-id " + exe;
  const std::string cmd_old = env + "codex exec-server --remote " + remote + " --executor-id " + exe;
  if (o.json_out) {
    json::object out{{"exe_id", exe}, {"user_id", o.user}, {"command", cmd_new}, {"command_legacy", cmd_old}};
    if (!o.workspace.empty()) {
      out["workspace_id"] = o.workspace;
      out["name"] = name;
    }
    if (!token.empty()) out["registration_token"] = token;
    std::cout << json::serialize(out) << '\n';
    return 0;
  }
  std::cout << "Created executor " << exe << " for user " << o.user << ".\n";
  if (!o.workspace.empty()) std::cout << "Bound to workspace " << o.workspace << " as \"" << name << "\".\n";
  if (!token.empty()) std::cout << token_note << '\n';
  std::cout << "\nOn the executor's machine, run (Codex 0.133 and later):\n  " << cmd_new
            << "\nCodex 0.130-0.132:\n  " << cmd_old << '\n';
  if (token.empty())
    std::cout << "\nCodex authenticates its registration with CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN (0.130, 0.131)\n"
                 "or its ChatGPT login (0.132+); the gateway's validator must accept it for user "
              << o.user << ".\n";
  else
    std::cout << "\n(0.132+ send their ChatGPT login instead of the bearer variable: map its access token\n"
                 "to user "
              << o.user << " in the token file, or run the gateway with the jwks or agentserver validator.)\n";
  return 0;
}

int delete_executor(OpOptions& o) {
  check_exe_id(o.exe_id);
  admin(o, "DELETE", "/api/codex-exec/executors/" + o.exe_id, "delete executor " + o.exe_id);
  if (o.json_out) std::cout << json::serialize(json::object{{"exe_id", o.exe_id}, {"deleted", true}}) << '\n';
  else std::cout << "Deleted executor " << o.exe_id << " (its bindings went with it; a connected exec-server was closed).\n";
  return 0;
}

int add_binding(OpOptions& o) {
  check_exe_id(o.exe_id);
  json::object b{{"exe_id", o.exe_id}, {"name", o.name.empty() ? o.exe_id : o.name}};
  if (!o.description.empty()) b["description"] = o.description;
  if (o.is_default) b["is_default"] = true;
  admin(o, "POST", "/api/codex-exec/workspaces/" + url_segment(o.workspace) + "/executors",
        "bind " + o.exe_id + " to workspace " + o.workspace, json::serialize(b));
  if (o.json_out)
    std::cout << json::serialize(json::object{{"workspace_id", o.workspace}, {"exe_id", o.exe_id}, {"status", "ok"}}) << '\n';
  else
    std::cout << "Bound " << o.exe_id << " to workspace " << o.workspace << " as \"" << b["name"].as_string().c_str()
              << "\".\n";
  return 0;
}

int remove_binding(OpOptions& o) {
  check_exe_id(o.exe_id);
  admin(o, "DELETE", "/api/codex-exec/workspaces/" + url_segment(o.workspace) + "/executors/" + o.exe_id,
        "unbind " + o.exe_id + " from workspace " + o.workspace);
  if (o.json_out)
    std::cout << json::serialize(json::object{{"workspace_id", o.workspace}, {"exe_id", o.exe_id}, {"removed", true}}) << '\n';
  else
    std::cout << "Unbound " << o.exe_id << " from workspace " << o.workspace << " (its bridges there were closed).\n";
  return 0;
}

// ----------------------------------------------------------------------------- revoke

int revoke(OpOptions& o) {
  const std::string secret = local_secret("CXG_INTERNAL_SHARED_SECRET", o.database);
  if (secret.empty())
    throw CliError("CXG_INTERNAL_SHARED_SECRET is not set and no cxg-secrets.env was found beside the database "
                   "(--database / CXG_DATABASE_URL)",
                   kExitUsage);
  json::object body{{"turn_id", o.turn}};
  std::int64_t exp = 0;
  if (!o.exp.empty()) {
    const bool digits = o.exp.find_first_not_of("0123456789") == std::string::npos;
    if (digits) {
      exp = std::stoll(o.exp);
    } else {
      const auto d = config::parse_duration(o.exp.front() == '+' ? o.exp.substr(1) : o.exp);
      if (!d) throw CliError("--exp: expected Unix seconds or a duration such as 24h, not '" + o.exp + "'", kExitUsage);
      exp = SystemClock::instance().now_unix_s() + std::chrono::duration_cast<std::chrono::seconds>(*d).count();
    }
    body["exp"] = exp;
  }
  auto r = api_request(o.resolved_url(), "POST", "/api/exec-gateway/revoke-turn", {"Authorization: Bearer " + secret},
                       json::serialize(body), TlsOptions{o.resolved_ca_file(), o.insecure});
  if (r.status != 204 && r.status != 200) {
    std::string msg = "revoke turn " + o.turn + ": " + api_error_text(r);
    if (r.status == 401) msg += " (CXG_INTERNAL_SHARED_SECRET does not match the gateway's)";
    throw CliError(msg, kExitFailure);
  }
  if (o.json_out) {
    json::object out{{"turn_id", o.turn}, {"revoked", true}};
    if (exp) out["exp"] = exp;
    std::cout << json::serialize(out) << '\n';
  } else {
    std::cout << "Revoked turn " << o.turn << " until "
              << (exp ? format_rfc3339_ms(exp * 1000) : std::string("the gateway's default TTL (CXG_REVOCATION_DEFAULT_TTL)"))
              << "; its live bridges were closed (4103).\n";
  }
  return 0;
}

// ----------------------------------------------------------------------------- registration

CLI::App* sub(CLI::App& parent, const char* name, const char* help, std::shared_ptr<OpOptions> o,
              int (*run)(OpOptions&)) {
  auto* cmd = parent.add_subcommand(name, help);
  add_gateway_options(*cmd, *o);
  cmd->add_flag("--json", o->json_out, "machine-readable JSON output");
  cmd->callback([o, run] { throw CLI::RuntimeError(run_reporting(kExitFailure, [&] { return run(*o); })); });
  return cmd;
}

}  // namespace

void add_operator_commands(CLI::App& app) {
  const char* admin_note =
      "The admin API needs X-Internal-Secret = CXG_AGENTSERVER_INTERNAL_SECRET (taken from the environment);\n"
      "with an empty secret the gateway answers loopback clients only.\n";
  {
    auto* ex = app.add_subcommand("executors", "Manage executor records (admin API)");
    ex->alias("executor");
    ex->require_subcommand(1);
    ex->footer(std::string(admin_note) +
               "\nExamples:\n"
               "  cxg executors list --workspace ws-1\n"
               "  cxg executors create --user alice --workspace ws-1 --name laptop\n"
               "  cxg executors create --user alice --id laptop --workspace ws-1 --static-token\n"
               "  cxg executors show laptop --json\n"
               "  cxg executors delete laptop");
    auto o = std::make_shared<OpOptions>();
    auto* list = sub(*ex, "list", "List the executors bound to a workspace, with online status", o, list_workspace);
    list->alias("ls");
    list->add_option("-w,--workspace", o->workspace, "workspace id")->required();
    auto* show = sub(*ex, "show", "Show one executor record", o, show_executor);
    show->add_option("exe_id", o->exe_id, "executor id")->required();
    auto* create = sub(*ex, "create", "Create an executor record and print the command its owner runs", o, create_executor);
    create->add_option("-u,--user", o->user, "owner: the user id the registration validator reports")->required();
    create->add_option("--id", o->exe_id, "executor id (default: exe_<uuid>)");
    create->add_option("-w,--workspace", o->workspace, "also bind it to this workspace");
    create->add_option("-n,--name", o->name, "binding name in the workspace (default: the executor id)");
    create->add_flag("--default", o->is_default, "mark the binding as the workspace default");
    create->add_option("--display-name", o->display_name, "display name of the record");
    create->add_option("--description", o->description, "description of the record");
    create->add_option("--default-cwd", o->default_cwd, "default working directory of the record");
    create->add_option("--remote-url", o->remote_url,
                       "gateway URL the executor's machine uses, in the printed command (default: --url)");
    create->add_flag("--static-token", o->static_token,
                     "generate a registration token for the static validator and append it to its token file "
                     "(CXG_STATIC_TOKENS_FILE or cxg-tokens beside the database)");
    auto* del = sub(*ex, "delete", "Delete an executor (closes its connections; its next registration fails)", o,
                    delete_executor);
    del->alias("rm");
    del->add_option("exe_id", o->exe_id, "executor id")->required();
  }
  {
    auto* b = app.add_subcommand("bindings", "Manage workspace bindings (admin API)");
    b->alias("binding");
    b->require_subcommand(1);
    b->footer(std::string(admin_note) +
              "\nExamples:\n"
              "  cxg bindings list ws-1\n"
              "  cxg bindings add ws-1 laptop --name \"my laptop\" --default\n"
              "  cxg bindings remove ws-1 laptop");
    auto o = std::make_shared<OpOptions>();
    auto* list = sub(*b, "list", "List a workspace's bindings with online status", o, list_workspace);
    list->alias("ls");
    list->add_option("workspace", o->workspace, "workspace id")->required();
    auto* add = sub(*b, "add", "Bind an executor to a workspace (or update the binding)", o, add_binding);
    add->add_option("workspace", o->workspace, "workspace id")->required();
    add->add_option("exe_id", o->exe_id, "executor id")->required();
    add->add_option("-n,--name", o->name, "name in the workspace, unique there (default: the executor id)");
    add->add_option("--description", o->description, "description");
    add->add_flag("--default", o->is_default, "mark as the workspace default");
    auto* rm = sub(*b, "remove", "Unbind an executor (closes that workspace's bridges to it)", o, remove_binding);
    rm->alias("rm");
    rm->add_option("workspace", o->workspace, "workspace id")->required();
    rm->add_option("exe_id", o->exe_id, "executor id")->required();
  }
  {
    auto o = std::make_shared<OpOptions>();
    auto* rv = sub(app, "revoke", "Revoke a turn: its cap-tokens stop working and its live bridges close", o, revoke);
    rv->add_option("turn_id", o->turn, "the turn id inside the cap-tokens")->required();
    rv->add_option("--exp", o->exp,
                   "keep the revocation until this Unix time (seconds) or for this long (e.g. 24h); pass at least "
                   "the tokens' expiry (default: CXG_REVOCATION_DEFAULT_TTL)");
    rv->footer(
        "Authenticates with CXG_INTERNAL_SHARED_SECRET, or the generated one in cxg-secrets.env beside the\n"
        "database (--database / CXG_DATABASE_URL).\n"
        "\nExamples:\n"
        "  cxg revoke trn_abc123\n"
        "  cxg revoke trn_abc123 --exp 48h");
  }
}

}  // namespace cxg::cli
