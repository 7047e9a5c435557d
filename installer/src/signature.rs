//! Release signatures: the release pipeline signs `SHA256SUMS` with minisign (ed25519;
//! `SHA256SUMS.minisig` beside it). When a public key is configured (`--public-key`,
//! `U7S_PUBLIC_KEY`), the checksums are trusted only with a good signature by that key.

use minisign_verify::{PublicKey, Signature};

use crate::error::{Error, Result};

/// The signature's file name for a checksums file name (`SHA256SUMS` -> `SHA256SUMS.minisig`).
pub fn signature_name(sums_name: &str) -> String {
    format!("{sums_name}.minisig")
}

/// A public key given as minisign's base64 text (`RW...`) or as the path of a minisign `.pub`
/// file.
pub fn load_public_key(given: &str) -> Result<PublicKey> {
    let bad = |reason: String| Error::PublicKey {
        given: given.to_string(),
        reason,
    };
    let text = if std::path::Path::new(given).is_file() {
        std::fs::read_to_string(given).map_err(|e| bad(e.to_string()))?
    } else {
        given.to_string()
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .unwrap_or("");
    PublicKey::from_base64(line).map_err(|e| bad(e.to_string()))
}

/// Checks `sums` (the checksums file's bytes, named `sums_from`) against `sig` (the text of
/// the signature file named `sig_from`, `None` when it is missing).
pub fn check(
    key: &PublicKey,
    sums: &[u8],
    sums_from: &str,
    sig: Option<&str>,
    sig_from: &str,
) -> Result<()> {
    let refused = |reason: String| Error::Signature {
        sums: sums_from.to_string(),
        sig: sig_from.to_string(),
        reason,
    };
    let sig = sig.ok_or_else(|| refused("the signature file is missing".into()))?;
    let sig =
        Signature::decode(sig).map_err(|e| refused(format!("not a minisign signature: {e}")))?;
    key.verify(sums, &sig, false).map_err(|e| {
        refused(format!(
            "bad signature ({e}): not signed by this key, or the file was changed"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made once with Debian's minisign 0.11: `minisign -G -W -p k.pub -s k.key`,
    // `minisign -S -s k.key -m SHA256SUMS` (and a second key pair for the wrong-key case).
    const SUMS: &str = include_str!("../tests/fixtures/signature/SHA256SUMS");
    const SIG: &str = include_str!("../tests/fixtures/signature/SHA256SUMS.minisig");
    const KEY: &str = include_str!("../tests/fixtures/signature/release.pub");
    const OTHER_KEY: &str = include_str!("../tests/fixtures/signature/other.pub");

    fn key(text: &str) -> PublicKey {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pub");
        std::fs::write(&p, text).unwrap();
        load_public_key(p.to_str().unwrap()).unwrap()
    }

    #[test]
    fn a_good_signature_passes_from_a_file_or_the_base64_key() {
        check(
            &key(KEY),
            SUMS.as_bytes(),
            "SHA256SUMS",
            Some(SIG),
            "SHA256SUMS.minisig",
        )
        .unwrap();
        let b64 = KEY.lines().nth(1).unwrap();
        let k = load_public_key(b64).unwrap();
        check(
            &k,
            SUMS.as_bytes(),
            "SHA256SUMS",
            Some(SIG),
            "SHA256SUMS.minisig",
        )
        .unwrap();
    }

    #[test]
    fn tampered_sums_wrong_key_missing_or_garbage_signature_are_refused() {
        let tampered = SUMS.replacen('0', "1", 1);
        assert_ne!(tampered, SUMS);
        let e = check(
            &key(KEY),
            tampered.as_bytes(),
            "dl/SHA256SUMS",
            Some(SIG),
            "dl/SHA256SUMS.minisig",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("dl/SHA256SUMS") && msg.contains("bad signature"),
            "{msg}"
        );
        assert!(e.hint().unwrap().contains("--public-key"), "{:?}", e.hint());
        let e = check(
            &key(OTHER_KEY),
            SUMS.as_bytes(),
            "S",
            Some(SIG),
            "S.minisig",
        )
        .unwrap_err();
        assert!(e.to_string().contains("bad signature"), "{e}");
        let e = check(&key(KEY), SUMS.as_bytes(), "S", None, "S.minisig").unwrap_err();
        assert!(
            e.to_string().contains("S.minisig") && e.to_string().contains("missing"),
            "{e}"
        );
        let e = check(&key(KEY), SUMS.as_bytes(), "S", Some("junk"), "S.minisig").unwrap_err();
        assert!(e.to_string().contains("not a minisign signature"), "{e}");
        let e = load_public_key("not a key").unwrap_err();
        assert!(e.to_string().contains("not a key"), "{e}");
    }
}
