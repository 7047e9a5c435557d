//! Kubeconfig files (pure): one cluster with the CA embedded, one user with its client
//! certificate and key embedded, one context `usernetes`, set as current. The YAML is emitted
//! here with every scalar double-quoted (JSON string syntax, valid YAML), so no value can change
//! type or structure whatever it holds.

use base64::Engine;

/// The cluster and context name in every kubeconfig.
pub const CONTEXT: &str = "usernetes";

/// `https://ADDR:PORT`, with brackets around an IPv6 address.
pub fn server_url(addr: &str, port: u16) -> String {
    match addr.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("https://[{addr}]:{port}"),
        Err(_) => format!("https://{addr}:{port}"),
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn b64(pem: &str) -> String {
    q(&base64::engine::general_purpose::STANDARD.encode(pem.as_bytes()))
}

/// The kubeconfig text for `user` (its certificate and key, PEM) at `server` (a URL).
pub fn render(server: &str, ca_pem: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
    format!(
        "apiVersion: \"v1\"\n\
         kind: \"Config\"\n\
         clusters:\n\
         - name: {ctx}\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: {user}\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n\
         contexts:\n\
         - name: {ctx}\n  \
           context:\n    \
             cluster: {ctx}\n    \
             user: {user}\n\
         current-context: {ctx}\n\
         preferences: {{}}\n",
        ctx = q(CONTEXT),
        server = q(server),
        ca = b64(ca_pem),
        user = q(user),
        cert = b64(cert_pem),
        key = b64(key_pem),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_bracket_ipv6() {
        assert_eq!(server_url("127.0.0.1", 6443), "https://127.0.0.1:6443");
        assert_eq!(server_url("master", 6443), "https://master:6443");
        assert_eq!(server_url("fd00::1", 16443), "https://[fd00::1]:16443");
    }

    #[test]
    fn renders_quoted_yaml_with_embedded_data() {
        let t = render(
            "https://127.0.0.1:6443",
            "CA\n",
            "system:node:a\"b",
            "CERT",
            "KEY",
        );
        assert!(t.contains("server: \"https://127.0.0.1:6443\"\n"), "{t}");
        assert!(t.contains("certificate-authority-data: \"Q0EK\"\n"), "{t}");
        assert!(t.contains("client-certificate-data: \"Q0VSVA==\"\n"), "{t}");
        assert!(t.contains("client-key-data: \"S0VZ\"\n"), "{t}");
        assert!(t.contains("- name: \"system:node:a\\\"b\"\n"), "{t}");
        assert!(t.contains("current-context: \"usernetes\"\n"), "{t}");
        // Every line is `key: "scalar"`, a list item, or a mapping opener.
        for line in t.lines() {
            let l = line.trim_start().trim_start_matches("- ");
            let (_, v) = l.split_once(": ").unwrap_or((l, ""));
            assert!(
                v.is_empty() || v.starts_with('"') || v == "{}",
                "unquoted scalar in {line:?}"
            );
        }
    }
}
