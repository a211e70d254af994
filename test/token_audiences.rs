//! The service-account token audience of the example kubelet configs (contrib/kubelet/): kubeadm's
//! API audience, and one the RBAC example (contrib/rbac/) lets nodes request.

mod support;

use serde_json::Value;
use support::packaging::*;

#[test]
fn kubeadm_example_asks_for_kubeadms_api_audience() {
    let config = yaml(&root().join("contrib/kubelet/credential-provider-config.yaml"));
    assert_eq!(
        config["providers"][0]["tokenAttributes"]["serviceAccountTokenAudience"],
        "https://kubernetes.default.svc.cluster.local",
        "kubeadm's --service-account-issuer, the default of its --api-audiences"
    );
}

#[test]
fn nodes_may_request_tokens_for_the_audiences_the_example_configs_ask_for() {
    let text =
        std::fs::read_to_string(root().join("contrib/rbac/node-token-audience.yaml")).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let role = documents
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    assert_eq!(
        role["rules"][0]["verbs"][0],
        "request-serviceaccounts-token-audience"
    );
    let granted = role["rules"][0]["resources"].as_array().unwrap();
    for config in [
        "contrib/kubelet/credential-provider-config.yaml",
        "contrib/kubelet/openshift/crio-credential-provider.yaml",
    ] {
        let config = yaml(&root().join(config));
        let provider = config["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "crio-credential-provider")
            .unwrap();
        let audience = &provider["tokenAttributes"]["serviceAccountTokenAudience"];
        assert!(granted.contains(audience), "{audience} is not granted");
    }
}
