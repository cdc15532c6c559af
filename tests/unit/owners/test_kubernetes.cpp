// Kubernetes names from the node's files: the pod UID in kubelet's cgroup paths (both drivers,
// every QoS class), the log tree's entry names, and their lookup in a temporary host root
// holding hostile entries (links, over-long names, odd bytes).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "owners/kubernetes.h"
#include "owners/process_info.h"

using namespace cwtrace;
namespace fs = std::filesystem;

namespace {

const std::string kUid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const std::string kUidUnderscores = "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0";
const std::string kId = "3f1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";

TEST(KubernetesPodUid, SystemdDriverEveryQosClass) {
    for (const std::string qos : {"besteffort", "burstable"}) {
        const std::string path = "/kubepods.slice/kubepods-" + qos + ".slice/kubepods-" + qos +
                                 "-pod" + kUidUnderscores + ".slice/cri-containerd-" + kId +
                                 ".scope";
        EXPECT_EQ(pod_uid(path), kUid) << path;
        EXPECT_EQ(container_id(path), kId) << path;
    }
    // Guaranteed pods sit directly under kubepods.slice.
    EXPECT_EQ(
        pod_uid("/kubepods.slice/kubepods-pod" + kUidUnderscores + ".slice/crio-" + kId + ".scope"),
        kUid);
}

TEST(KubernetesPodUid, CgroupfsDriverEveryQosClass) {
    EXPECT_EQ(pod_uid("/kubepods/besteffort/pod" + kUid + "/" + kId), kUid);
    EXPECT_EQ(pod_uid("/kubepods/burstable/pod" + kUid + "/" + kId), kUid);
    EXPECT_EQ(pod_uid("/kubepods/pod" + kUid + "/" + kId), kUid);
    // Under a node's own slice (kind, k3s in a container), and a static pod's plain-hex UID.
    EXPECT_EQ(pod_uid("/system.slice/k3s.service/kubepods/burstable/pod" + kUid + "/" + kId), kUid);
    EXPECT_EQ(pod_uid("/kubepods/burstable/pod8b0ddc1a6a0e5b5e7b3e2c0a4f3c2b1a/" + kId),
              "8b0ddc1a6a0e5b5e7b3e2c0a4f3c2b1a");
}

TEST(KubernetesPodUid, RejectsWhatKubeletDoesNotWrite) {
    EXPECT_EQ(pod_uid("/user.slice/user-1000.slice/session-2.scope"), std::nullopt);
    EXPECT_EQ(pod_uid("/system.slice/docker-" + kId + ".scope"), std::nullopt);
    // "pod<uid>" outside kubepods is someone else's name.
    EXPECT_EQ(pod_uid("/pod" + kUid + "/" + kId), std::nullopt);
    // The systemd form's separators are underscores; cgroupfs' are dashes.
    EXPECT_EQ(pod_uid("/kubepods.slice/kubepods-pod" + kUid + ".slice"), std::nullopt);
    EXPECT_EQ(pod_uid("/kubepods/pod" + kUidUnderscores + "/" + kId), std::nullopt);
    // Wrong lengths, upper case, separators out of place, no ".slice".
    EXPECT_EQ(pod_uid("/kubepods/pod" + kUid.substr(1) + "/x"), std::nullopt);
    EXPECT_EQ(pod_uid("/kubepods/pod0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0/x"), std::nullopt);
    EXPECT_EQ(pod_uid("/kubepods/pod0f1e2d3c4-b5a-6978-8796-a5b4c3d2e1f0/x"), std::nullopt);
    EXPECT_EQ(pod_uid("/kubepods.slice/kubepods-pod" + kUidUnderscores), std::nullopt);
    EXPECT_EQ(pod_uid(""), std::nullopt);
    EXPECT_EQ(pod_uid("/"), std::nullopt);
}

TEST(KubernetesPodUid, InnermostPodWins) {
    const std::string inner = "11111111-2222-3333-4444-555555555555";
    EXPECT_EQ(pod_uid("/kubepods/pod" + kUid + "/" + kId + "/kubepods/pod" + inner + "/x"), inner);
}

TEST(KubernetesNamesParse, PodDirectory) {
    auto pod = parse_pod_directory("payments_api-7d9f.v2_" + kUid);
    ASSERT_TRUE(pod);
    EXPECT_EQ(pod->namespace_name, "payments");
    EXPECT_EQ(pod->pod, "api-7d9f.v2");
    EXPECT_EQ(pod->uid, kUid);
    EXPECT_FALSE(parse_pod_directory("pay_ments_api_" + kUid));  // '_' in no Kubernetes name
    EXPECT_FALSE(parse_pod_directory("payments_" + kUid));
    EXPECT_FALSE(parse_pod_directory("Payments_api_" + kUid));
    EXPECT_FALSE(parse_pod_directory("pay\x1b[31mments_api_" + kUid));
    EXPECT_FALSE(parse_pod_directory(std::string(64, 'a') + "_api_" + kUid));  // label > 63
    EXPECT_FALSE(parse_pod_directory("ns_" + std::string(254, 'a') + "_" + kUid));
    EXPECT_TRUE(parse_pod_directory("ns_" + std::string(253, 'a') + "_" + kUid));
    EXPECT_FALSE(parse_pod_directory("ns_-api_" + kUid));
    EXPECT_FALSE(parse_pod_directory("ns_api_not-a-uid"));
}

TEST(KubernetesNamesParse, ContainerLog) {
    auto c = parse_container_log("api-7d9f_payments_web-" + kId + ".log");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->first, "web");
    EXPECT_EQ(c->second, kId);
    EXPECT_FALSE(parse_container_log("api-7d9f_payments_web-" + kId));
    EXPECT_FALSE(parse_container_log("api-7d9f_payments_web-" + kId.substr(1) + ".log"));
    EXPECT_FALSE(parse_container_log("api-7d9f_payments_web_" + kId + ".log"));
    EXPECT_FALSE(parse_container_log("web-" + kId + ".log"));
    EXPECT_FALSE(parse_container_log("api_payments_w\xffz-" + kId + ".log"));
    EXPECT_FALSE(parse_container_log("api_payments_" + std::string(64, 'w') + "-" + kId + ".log"));
}

// A host root with kubelet's log tree, made by each test.
class KubeletTree : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/cwtrace-kubelet-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root_ = tmpl;
        fs::create_directories(root_ / "var/log/pods");
        fs::create_directories(root_ / "var/log/containers");
    }
    void TearDown() override { fs::remove_all(root_); }

    // /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log and its /var/log/containers link.
    void add_container(const std::string& ns, const std::string& pod, const std::string& uid,
                       const std::string& container, const std::string& id) {
        const fs::path dir = root_ / "var/log/pods" / (ns + "_" + pod + "_" + uid) / container;
        fs::create_directories(dir);
        std::ofstream(dir / "0.log") << "log\n";
        fs::create_symlink(
            dir / "0.log",
            root_ / "var/log/containers" / (pod + "_" + ns + "_" + container + "-" + id + ".log"));
    }

    fs::path root_;
};

TEST_F(KubeletTree, NamesByUidAndContainerId) {
    const std::string other_id(64, 'e');
    add_container("payments", "api-7d9f", kUid, "web", kId);
    add_container("payments", "api-7d9f", kUid, "sidecar", other_id);
    KubeletNames names(root_.string());
    auto web = names.lookup(kUid, kId);
    ASSERT_TRUE(web);
    EXPECT_EQ(web->namespace_name, "payments");
    EXPECT_EQ(web->pod, "api-7d9f");
    EXPECT_EQ(web->container, "web");
    EXPECT_EQ(names.lookup(kUid, other_id)->container, "sidecar");
    // Two containers and no id to tell them apart: the pod is known, the container not.
    auto anonymous = names.lookup(kUid, std::nullopt);
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->pod, "api-7d9f");
    EXPECT_EQ(anonymous->container, std::nullopt);
    EXPECT_EQ(names.lookup("11111111-2222-3333-4444-555555555555", kId), std::nullopt);
}

TEST_F(KubeletTree, OnlyContainerNamedWithoutItsLog) {
    fs::create_directories(root_ / "var/log/pods" / ("default_job-x_" + kUid) / "main");
    KubeletNames names(root_.string());
    auto found = names.lookup(kUid, kId);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->container, "main");
}

TEST_F(KubeletTree, HostileEntriesAreNeitherFollowedNorKept) {
    // A link standing for a pod directory, pointing at a tree that looks like a pod's.
    const fs::path elsewhere = root_ / "elsewhere";
    fs::create_directories(elsewhere / "web");
    fs::create_directory_symlink(elsewhere, root_ / "var/log/pods" / ("evil_linked_" + kUid));
    // A pod directory whose only container entry is a link to a directory.
    const std::string uid2 = "22222222-2222-3333-4444-555555555555";
    const fs::path pod2 = root_ / "var/log/pods" / ("ns_two_" + uid2);
    fs::create_directories(pod2);
    fs::create_directory_symlink(elsewhere / "web", pod2 / "web");
    // Over-long and odd names; a regular file shaped like a pod directory.
    const std::string uid3 = "33333333-2222-3333-4444-555555555555";
    fs::create_directories(root_ / "var/log/pods" / (std::string(64, 'n') + "_p_" + uid3));
    const std::string uid4 = "44444444-2222-3333-4444-555555555555";
    fs::create_directories(root_ / "var/log/pods" / ("ns_p\x1b]0;x\x07_" + uid4));
    const std::string uid5 = "55555555-2222-3333-4444-555555555555";
    std::ofstream(root_ / "var/log/pods" / ("ns_file_" + uid5)) << "";
    KubeletNames names(root_.string());
    EXPECT_EQ(names.lookup(kUid, std::nullopt), std::nullopt);
    auto two = names.lookup(uid2, std::nullopt);
    ASSERT_TRUE(two);
    EXPECT_EQ(two->pod, "two");
    EXPECT_EQ(two->container, std::nullopt) << "a link is no container directory";
    EXPECT_EQ(names.lookup(uid3, std::nullopt), std::nullopt);
    EXPECT_EQ(names.lookup(uid4, std::nullopt), std::nullopt);
    EXPECT_EQ(names.lookup(uid5, std::nullopt), std::nullopt);
}

TEST_F(KubeletTree, NewPodFoundOnALaterLookup) {
    KubeletNames names(root_.string());
    EXPECT_EQ(names.lookup(kUid, kId), std::nullopt);
    add_container("payments", "api-7d9f", kUid, "web", kId);
    // Listed again at most once a second.
    EXPECT_EQ(names.lookup(kUid, kId), std::nullopt);
    sleep(1);
    auto found = names.lookup(kUid, kId);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->container, "web");
}

TEST_F(KubeletTree, MissingTreeIsNoError) {
    fs::remove_all(root_ / "var");
    KubeletNames names(root_.string());
    EXPECT_EQ(names.lookup(kUid, kId), std::nullopt);
    KubeletNames absent("/nonexistent-cwtrace-root");
    EXPECT_EQ(absent.lookup(kUid, kId), std::nullopt);
}

}  // namespace
