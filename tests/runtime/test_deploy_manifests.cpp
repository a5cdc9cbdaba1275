// deploy/ is checked with the real tools, without a cluster or a booted systemd: kubectl decodes
// the manifests locally (YAML, then the typed Kubernetes objects, so a wrong type or a misspelt
// field fails), and systemd-analyze verifies the campaign units. Each check is also shown to fail
// on a broken copy, so a check that passes everything cannot hide here.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proc/child_process.h"
#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDeploy = fs::path(UT_SOURCE_DIR) / "deploy";

struct ToolRun {
  int status = -1;
  std::string out, err;
};

ToolRun run(const std::vector<std::string>& argv) {
  proc::ChildProcess child(argv);
  child.close_stdin();
  ToolRun result;
  result.out = child.read_stdout_rest();
  result.err = child.read_stderr_rest();
  result.status = child.wait(60).value_or(-1);
  return result;
}

bool have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

#define UT_REQUIRE_TOOL(tool)                                                        \
  do {                                                                               \
    if (!have(tool)) {                                                               \
      if (skipping_forbidden()) FAIL() << tool << " missing: scripts/setup.sh installs it"; \
      GTEST_SKIP() << "SKIPPING: " << tool << " missing (scripts/setup.sh installs it)"; \
    }                                                                                \
  } while (0)

class DeployManifests : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("KUBECONFIG", "/dev/null", 1);  // never a cluster: everything below is --local
    dir_ = fs::temp_directory_path() / fmt::format("ut-deploy-{}", getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path broken_copy(const fs::path& original, const std::string& from, const std::string& to) {
    std::ifstream in(original);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    fs::path copy = dir_ / original.filename();
    std::ofstream(copy) << s;
    return copy;
  }

  // The objects as YAML gives them (no schema): `kubectl label --local`.
  static ToolRun as_parsed(const fs::path& file) {
    return run({"kubectl", "label", "--local", "-f", file.string(), "ut-checked=yes", "-o", "json"});
  }
  // The DaemonSet decoded into its typed object and encoded back: `kubectl set resources --local`.
  static ToolRun as_typed(const fs::path& file) {
    return run({"kubectl", "set", "resources", "--local", "-f", file.string(), "--requests=cpu=21m", "-o", "json"});
  }

  fs::path dir_;
};

// Fields YAML has and the typed object lost: misspelt or unknown to Kubernetes.
void collect_lost(const json& parsed, const json& typed, const std::string& path, std::vector<std::string>& lost) {
  if (parsed.is_object() && typed.is_object()) {
    for (const auto& [key, value] : parsed.items()) {
      if (!typed.contains(key)) lost.push_back(path + "." + key);
      else collect_lost(value, typed[key], path + "." + key, lost);
    }
  } else if (parsed.is_array() && typed.is_array() && parsed.size() == typed.size()) {
    for (size_t i = 0; i < parsed.size(); ++i) collect_lost(parsed[i], typed[i], fmt::format("{}[{}]", path, i), lost);
  }
}

TEST_F(DeployManifests, KubectlParsesEveryManifest) {
  UT_REQUIRE_TOOL("kubectl");
  for (const char* name : {"namespace.yaml", "daemonset.yaml"}) {
    auto result = as_parsed(kDeploy / "kubernetes" / name);
    EXPECT_EQ(result.status, 0) << name << ": " << result.err;
  }
  auto bad = as_parsed(broken_copy(kDeploy / "kubernetes" / "daemonset.yaml", "      containers:", "      containers: ["));
  EXPECT_NE(bad.status, 0) << "a YAML syntax error passed";
}

TEST_F(DeployManifests, DaemonSetDecodesIntoTheTypedObjectWithNothingLost) {
  UT_REQUIRE_TOOL("kubectl");
  fs::path file = kDeploy / "kubernetes" / "daemonset.yaml";
  auto parsed = as_parsed(file);
  auto typed = as_typed(file);
  ASSERT_EQ(parsed.status, 0) << parsed.err;
  ASSERT_EQ(typed.status, 0) << typed.err;
  json p = json::parse(parsed.out), t = json::parse(typed.out);
  std::vector<std::string> lost;
  collect_lost(p, t, "", lost);
  lost.erase(std::remove(lost.begin(), lost.end(), ".metadata.labels.ut-checked"), lost.end());
  EXPECT_TRUE(lost.empty()) << "fields Kubernetes does not know: " << ::testing::PrintToString(lost);
  const json& spec = t["spec"]["template"]["spec"];
  EXPECT_TRUE(spec["hostPID"].get<bool>());
  EXPECT_TRUE(spec["containers"][0]["securityContext"]["privileged"].get<bool>());
  EXPECT_TRUE(spec["containers"][0]["resources"].contains("limits"));
  EXPECT_EQ(t["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"], "9464");
  bool btf = false;
  for (const auto& volume : spec["volumes"]) btf = btf || volume["hostPath"]["path"] == "/sys/kernel/btf";
  EXPECT_TRUE(btf);

  // The same check fails on a wrong type and on a misspelt field.
  auto wrong_type = as_typed(broken_copy(file, "hostPID: true", "hostPID: \"yes\""));
  EXPECT_NE(wrong_type.status, 0) << "a string for a boolean passed";
  fs::path misspelt = broken_copy(file, "hostPID: true", "hostPid: true");
  auto misspelt_parsed = as_parsed(misspelt), misspelt_typed = as_typed(misspelt);
  ASSERT_EQ(misspelt_typed.status, 0) << misspelt_typed.err;
  std::vector<std::string> misspelt_lost;
  collect_lost(json::parse(misspelt_parsed.out), json::parse(misspelt_typed.out), "", misspelt_lost);
  EXPECT_NE(std::find(misspelt_lost.begin(), misspelt_lost.end(), ".spec.template.spec.hostPid"), misspelt_lost.end());
}

// The unit runs the binary it names: point it at the one just built, as an install would.
TEST_F(DeployManifests, SystemdUnitsVerify) {
  UT_REQUIRE_TOOL("systemd-analyze");
  fs::path service = broken_copy(kDeploy / "systemd" / "unwindtrace-campaign.service", "/usr/local/bin/unwindtrace",
                                 tool_path());
  fs::copy_file(kDeploy / "systemd" / "unwindtrace-campaign.timer", dir_ / "unwindtrace-campaign.timer");
  auto result = run({"systemd-analyze", "verify", service.string(), (dir_ / "unwindtrace-campaign.timer").string()});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err.find(service.filename().string()), std::string::npos) << result.err;  // no warning about it

  fs::remove(service);
  fs::path broken = broken_copy(kDeploy / "systemd" / "unwindtrace-campaign.service", "/usr/local/bin/unwindtrace",
                                "unwindtrace-relative");
  auto bad = run({"systemd-analyze", "verify", broken.string()});
  EXPECT_TRUE(bad.status != 0 || !bad.err.empty()) << "a relative ExecStart passed";
}

}  // namespace
}  // namespace ut::runtime_test
