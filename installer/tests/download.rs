//! Installing from a URL, served by a small HTTP server on 127.0.0.1 inside the test:
//! SHA256SUMS fetched from beside the archive, resume of an interrupted download with a Range
//! request, refusal of HTTP errors and of a download whose hash does not match.

mod common;

use std::collections::HashMap;

use testkit::http::Server;

use common::*;

/// The test kit's file server; `log` lists "GET /path range=<value or ->" per request.
struct Served {
    base: String,
    srv: Server,
}

impl Served {
    fn log(&self) -> Vec<String> {
        self.srv
            .requests()
            .iter()
            .map(|r| format!("GET {} range={}", r.path, r.range.as_deref().unwrap_or("-")))
            .collect()
    }
}

/// Serves `files` (path -> body); `/fail/...` answers 500; unknown paths 404. Honours
/// `Range: bytes=N-` (testkit::http).
fn serve(files: HashMap<String, Vec<u8>>) -> Served {
    let srv = Server::start(files, false);
    Served {
        base: srv.base.clone(),
        srv,
    }
}

fn release_files(rel: &Release, dir: &str, with_sums: bool) -> HashMap<String, Vec<u8>> {
    let tbz = rel.tbz();
    let mut m = HashMap::new();
    if with_sums {
        m.insert(
            format!("{dir}/SHA256SUMS"),
            format!("{}  usernetes-x86_64.tbz\n", sha256_hex(&tbz)).into_bytes(),
        );
    }
    m.insert(format!("{dir}/usernetes-x86_64.tbz"), tbz);
    m
}

#[test]
fn install_from_a_url_with_checksums_beside_it() {
    let s = Sandbox::new();
    let rel = Release::small("1.0.0");
    let srv = serve(release_files(&rel, "/r/v1", true));
    let url = format!("{}/r/v1/usernetes-x86_64.tbz", srv.base);
    let o = s.run(&[&url, "--no-doctor"]);
    assert_success(&o);
    s.assert_current(&rel);
    let log = srv.log();
    assert_eq!(log[0], "GET /r/v1/SHA256SUMS range=-", "{log:?}");
    assert_eq!(log[1], "GET /r/v1/usernetes-x86_64.tbz range=-", "{log:?}");
    // The downloaded copy is not kept once installed.
    let cached: Vec<_> = std::fs::read_dir(s.prefix().join(".downloads"))
        .unwrap()
        .flatten()
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let s = Sandbox::new();
    let rel = Release::large("1.0.0", 20, 50_000);
    let tbz = rel.tbz();
    let srv = serve(release_files(&rel, "/r", true));
    let dl = s.prefix().join(".downloads");
    std::fs::create_dir_all(&dl).unwrap();
    let half = tbz.len() / 2;
    std::fs::write(dl.join("usernetes-x86_64.tbz.partial"), &tbz[..half]).unwrap();
    let o = s.run(&[
        &format!("{}/r/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
    ]);
    assert_success(&o);
    assert!(
        stderr(&o).contains(&format!("resumed the download at byte {half}")),
        "{}",
        text(&o)
    );
    let log = srv.log();
    assert!(
        log.contains(&format!("GET /r/usernetes-x86_64.tbz range=bytes={half}-")),
        "{log:?}"
    );
    s.assert_current(&rel);
}

#[test]
fn a_stale_partial_download_is_restarted_once_then_checked() {
    let s = Sandbox::new();
    let rel = Release::small("1.0.0");
    let srv = serve(release_files(&rel, "/r", true));
    let dl = s.prefix().join(".downloads");
    std::fs::create_dir_all(&dl).unwrap();
    // Bytes of some other file: resuming after them cannot give the right hash.
    std::fs::write(
        dl.join("usernetes-x86_64.tbz.partial"),
        b"garbage from another release",
    )
    .unwrap();
    let o = s.run(&[
        &format!("{}/r/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
    ]);
    assert_success(&o);
    s.assert_current(&rel);
    let log = srv.log();
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("GET /r/usernetes-x86_64.tbz"))
            .count(),
        2,
        "{log:?}"
    );
}

#[test]
fn url_failures_are_refused_before_unpacking() {
    let s = Sandbox::new();
    let v1 = Release::small("1.0.0");
    s.install_ok(&v1, &[]);
    let rel = Release::small("2.0.0");
    let mut files = release_files(&rel, "/ok", true);
    files.extend(release_files(&rel, "/nosums", false));
    // Published checksums that do not match what is served.
    files.insert(
        "/bad/SHA256SUMS".into(),
        format!("{}  usernetes-x86_64.tbz\n", "cd".repeat(32)).into_bytes(),
    );
    files.insert("/bad/usernetes-x86_64.tbz".into(), rel.tbz());
    // Published checksums that match, but the archive is not bzip2: refused after download.
    let plain = rel.tar();
    files.insert(
        "/plain/SHA256SUMS".into(),
        format!("{}  usernetes-x86_64.tbz\n", sha256_hex(&plain)).into_bytes(),
    );
    files.insert("/plain/usernetes-x86_64.tbz".into(), plain);
    let srv = serve(files);

    let o = s.run(&[
        &format!("{}/fail/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
        "--insecure-skip-checksum",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("HTTP 500"), "{}", text(&o));

    let o = s.run(&[
        &format!("{}/missing/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
        "--insecure-skip-checksum",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("HTTP 404"), "{}", text(&o));

    let o = s.run(&[
        &format!("{}/nosums/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("no checksums for"), "{}", text(&o));

    let o = s.run(&[
        &format!("{}/bad/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(stderr(&o).contains("sha256 mismatch"), "{}", text(&o));
    assert!(
        !s.prefix()
            .join(".downloads/usernetes-x86_64.tbz.partial")
            .exists()
    );

    let o = s.run(&[
        &format!("{}/plain/usernetes-x86_64.tbz", srv.base),
        "--no-doctor",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let cached: Vec<_> = std::fs::read_dir(s.prefix().join(".downloads"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        cached.is_empty(),
        "a refused download is not kept: {cached:?}"
    );

    s.assert_current(&v1);
    assert_eq!(s.versions(), ["1.0.0"]);

    // --checksums as a URL.
    let o = s.run(&[
        &format!("{}/nosums/usernetes-x86_64.tbz", srv.base),
        "--checksums",
        &format!("{}/ok/SHA256SUMS", srv.base),
        "--no-doctor",
    ]);
    assert_success(&o);
    s.assert_current(&rel);
}
