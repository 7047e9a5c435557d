//! Patch series with `git am` semantics.
//!
//! `patches/<component>/*.patch` are `git format-patch` mails, applied in file-name (byte)
//! order on top of the pinned commit. Each mail is parsed like `git mailinfo` does it: author
//! from `From:` (RFC 2047 decoded; in-body `From:`/`Date:`/`Subject:` lines override), author
//! date from `Date:` with its own UTC offset, subject cleaned of `Re:` and `[PATCH n/m]`
//! prefixes, message body up to the `---` line. Each patch becomes a commit with that author
//! and the fixed committer `usernetes build <build@usernetes.invalid>` whose date is the author
//! date, so the patched HEAD has the same commit id everywhere (the same id `git am
//! --committer-date-is-author-date` gives with that committer identity).
//!
//! A patch that does not apply stops the series with an error naming the patch file and the
//! path inside the tree that failed.

use std::path::{Path, PathBuf};

use git2::{ApplyOptions, Diff, Oid, Repository, Signature, Time};

use crate::error::{Error, IoContext, Result};

/// The committer of every patch commit.
pub const COMMITTER_NAME: &str = "usernetes build";
pub const COMMITTER_EMAIL: &str = "build@usernetes.invalid";

/// One file of a component's series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFile {
    /// Its path (as found under `--patches`), used in messages.
    pub path: PathBuf,
    /// Its file name, recorded in the manifest.
    pub name: String,
    /// sha256 of its bytes.
    pub sha256: String,
}

/// The `*.patch` files of `patches_dir/<component>/`, in name order; empty when the folder
/// does not exist.
pub fn list_series(patches_dir: &Path, component: &str) -> Result<Vec<PatchFile>> {
    let dir = patches_dir.join(component);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.at(&dir)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".patch") && e.file_type().at(e.path())?.is_file() {
            let path = dir.join(&name);
            let sha256 = crate::fsutil::sha256_file(&path)?;
            out.push(PatchFile { path, name, sha256 });
        }
    }
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

/// One parsed patch mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchMail {
    pub author_name: String,
    pub author_email: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// The UTC offset of the mail's `Date:`, in minutes.
    pub offset_minutes: i32,
    /// The commit message (subject, blank line, body), as `git am` writes it.
    pub message: String,
    /// The diff part of the body.
    pub diff: Vec<u8>,
}

/// Splits an mbox file into its messages (each without its `From <id> <date>` line).
fn split_mbox(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        if is_mbox_from_line(&data[pos..end]) {
            starts.push((pos, end));
        }
        pos = end;
    }
    if starts.is_empty() {
        return vec![data];
    }
    let mut out = Vec::new();
    for (i, &(_, body_start)) in starts.iter().enumerate() {
        let stop = starts.get(i + 1).map_or(data.len(), |&(s, _)| s);
        out.push(&data[body_start..stop]);
    }
    out
}

/// `From <40 hex> <date>` as written by `git format-patch`.
fn is_mbox_from_line(line: &[u8]) -> bool {
    line.len() > 46
        && line.starts_with(b"From ")
        && line[5..45].iter().all(u8::is_ascii_hexdigit)
        && line[45] == b' '
}

/// Parses every message of a `git format-patch` file.
pub fn parse_mbox(data: &[u8]) -> std::result::Result<Vec<PatchMail>, String> {
    let mut mails = Vec::new();
    for (i, raw) in split_mbox(data).into_iter().enumerate() {
        let mail = parse_message(raw).map_err(|e| {
            if i == 0 {
                e
            } else {
                format!("message {}: {e}", i + 1)
            }
        })?;
        mails.push(mail);
    }
    if mails.is_empty() {
        return Err("no patch mail found".into());
    }
    Ok(mails)
}

fn parse_message(raw: &[u8]) -> std::result::Result<PatchMail, String> {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).map_err(|e| format!("not a mail: {e}"))?;
    if !mail.subparts.is_empty() {
        return Err("multipart mails are not supported: use `git format-patch` output".into());
    }
    let mut from = mail
        .headers
        .get_first_value("From")
        .ok_or("no From: header")?;
    let mut date = mail
        .headers
        .get_first_value("Date")
        .ok_or("no Date: header")?;
    let mut subject = mail.headers.get_first_value("Subject").unwrap_or_default();
    let body = mail
        .get_body_raw()
        .map_err(|e| format!("cannot decode the body: {e}"))?;

    // Message lines up to the patch break; in-body headers first.
    let mut log = String::new();
    let mut header_stage = true;
    let mut diff_start = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| pos + i + 1);
        let line = String::from_utf8_lossy(&body[pos..end]);
        if header_stage {
            if line.trim().is_empty() {
                pos = end;
                continue;
            }
            if let Some((key, value)) = inbody_header(&line) {
                match key {
                    "From" => from = value,
                    "Date" => date = value,
                    _ => subject = value,
                }
                pos = end;
                continue;
            }
            header_stage = false;
        }
        if is_patch_break(&line) {
            diff_start = Some(pos);
            break;
        }
        log.push_str(&line);
        pos = end;
    }
    let diff_start = diff_start.ok_or("no diff found in the mail")?;
    let diff = body[diff_start..].to_vec();
    if !diff.windows(11).any(|w| w == b"diff --git ") {
        return Err("no `diff --git` found: the mail holds no patch".into());
    }

    let (author_name, author_email) = parse_author(&from)?;
    let time = mailparse::dateparse(&date).map_err(|e| format!("Date: '{date}': {e}"))?;
    let offset_minutes = date_offset_minutes(&date);
    let subject = clean_subject(&subject);
    let message = strip_space(&format!("{subject}\n\n{log}"));
    Ok(PatchMail {
        author_name,
        author_email,
        time,
        offset_minutes,
        message,
        diff,
    })
}

fn inbody_header(line: &str) -> Option<(&'static str, String)> {
    for key in ["From", "Date", "Subject"] {
        if let Some(rest) = line.strip_prefix(key)
            && let Some(value) = rest.strip_prefix(':')
        {
            let value = value.trim();
            // Decode RFC 2047 words the same way as in the mail header.
            let decoded = mailparse::parse_header(format!("{key}: {value}").as_bytes())
                .map(|(h, _)| h.get_value())
                .unwrap_or_else(|_| value.to_string());
            return Some((key, decoded));
        }
    }
    None
}

/// `git mailinfo`'s patch break: `diff -`, `Index: `, `--- <file>` or a `---` line.
fn is_patch_break(line: &str) -> bool {
    if line.starts_with("diff -") || line.starts_with("Index: ") {
        return true;
    }
    let b = line.as_bytes();
    if b.len() < 4 || !line.starts_with("---") {
        return false;
    }
    if b[3] == b' ' && !b[4].is_ascii_whitespace() {
        return true;
    }
    line[3..].trim_end_matches(['\n', '\r']).trim().is_empty()
}

/// Name and email from a `From:` value, with `git mailinfo`'s fallback to the email when the
/// name is empty, longer than 60 bytes or holds '@', '<' or '>'.
fn parse_author(from: &str) -> std::result::Result<(String, String), String> {
    let list = mailparse::addrparse(from).map_err(|e| format!("From: '{from}': {e}"))?;
    let single = match list.first() {
        Some(mailparse::MailAddr::Single(s)) => s.clone(),
        _ => return Err(format!("From: '{from}' is not a single address")),
    };
    let email = single.addr.trim().to_string();
    let name = single.display_name.unwrap_or_default().trim().to_string();
    let name = if name.is_empty() || name.len() > 60 || name.contains(['@', '<', '>']) {
        email.clone()
    } else {
        name
    };
    if email.is_empty() {
        return Err(format!("From: '{from}' has no email address"));
    }
    Ok((name, email))
}

/// The `+hhmm`/`-hhmm` offset at the end of an RFC 2822 date, in minutes (0 when absent).
pub fn date_offset_minutes(date: &str) -> i32 {
    for tok in date.split_whitespace().rev() {
        let b = tok.as_bytes();
        if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
            let h: i32 = tok[1..3].parse().unwrap_or(0);
            let m: i32 = tok[3..5].parse().unwrap_or(0);
            let v = h * 60 + m;
            return if b[0] == b'-' { -v } else { v };
        }
        if tok.contains(':') {
            break; // reached the time of day: no numeric zone
        }
    }
    0
}

/// `git mailinfo`'s subject cleanup: leading `Re:`, whitespace, `:` and `[...]` groups are
/// removed, the rest trimmed and its whitespace runs squeezed to one space.
pub fn clean_subject(s: &str) -> String {
    let mut rest = s;
    loop {
        let lower = rest.as_bytes();
        if lower.len() > 3
            && (lower[0] | 0x20) == b'r'
            && (lower[1] | 0x20) == b'e'
            && lower[2] == b':'
        {
            rest = &rest[3..];
        } else if let Some(r) = rest.strip_prefix([' ', '\t', ':', '\n', '\r']) {
            rest = r;
        } else if rest.starts_with('[') {
            match rest.find(']') {
                Some(i) => rest = &rest[i + 1..],
                None => break,
            }
        } else {
            break;
        }
    }
    rest.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `git stripspace`: trailing whitespace removed from each line, runs of blank lines squeezed
/// to one, leading and trailing blank lines removed, a final newline.
pub fn strip_space(text: &str) -> String {
    let mut out = String::new();
    let mut blank_pending = false;
    for line in text.lines() {
        let l = line.trim_end();
        if l.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if blank_pending {
            out.push('\n');
            blank_pending = false;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Applies `series` on top of the work tree's HEAD as commits and checks the result out.
/// Returns the new HEAD.
pub fn apply_series(repo: &Repository, series: &[PatchFile]) -> Result<Oid> {
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| apply_err(&series[0], None, &e.to_string()))?;
    let mut head_id = head.id();
    for pf in series {
        crate::cancel::check()?;
        let data = std::fs::read(&pf.path).at(&pf.path)?;
        let mails = parse_mbox(&data).map_err(|msg| Error::PatchParse {
            file: pf.path.clone(),
            msg,
        })?;
        for mail in mails {
            head_id = apply_mail(repo, pf, &mail, head_id)?;
        }
    }
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .map_err(|e| apply_err(series.last().expect("non-empty"), None, &e.to_string()))?;
    Ok(head_id)
}

fn apply_err(pf: &PatchFile, path: Option<String>, msg: &str) -> Error {
    Error::PatchApply {
        file: pf.path.clone(),
        path,
        msg: msg.to_string(),
    }
}

fn apply_mail(repo: &Repository, pf: &PatchFile, mail: &PatchMail, parent_id: Oid) -> Result<Oid> {
    let diff = Diff::from_buffer(&mail.diff).map_err(|e| Error::PatchParse {
        file: pf.path.clone(),
        msg: format!("unreadable diff: {}", e.message()),
    })?;
    let git = |e: git2::Error| apply_err(pf, None, e.message());
    let parent = repo.find_commit(parent_id).map_err(git)?;
    let tree = parent.tree().map_err(git)?;
    let mut index = match repo.apply_to_tree(&tree, &diff, None) {
        Ok(i) => i,
        Err(e) => {
            let path = failing_path(repo, &tree, &diff);
            return Err(apply_err(pf, path, e.message()));
        }
    };
    let tree_id = index.write_tree_to(repo).map_err(git)?;
    let new_tree = repo.find_tree(tree_id).map_err(git)?;
    let when = Time::new(mail.time, mail.offset_minutes);
    let author = Signature::new(&mail.author_name, &mail.author_email, &when).map_err(git)?;
    let committer = Signature::new(COMMITTER_NAME, COMMITTER_EMAIL, &when).map_err(git)?;
    repo.commit(
        Some("HEAD"),
        &author,
        &committer,
        &mail.message,
        &new_tree,
        &[&parent],
    )
    .map_err(git)
}

/// Finds the first file of `diff` that does not apply on its own.
fn failing_path(repo: &Repository, tree: &git2::Tree, diff: &Diff) -> Option<String> {
    let paths: Vec<String> = diff
        .deltas()
        .filter_map(|d| {
            d.old_file()
                .path()
                .or(d.new_file().path())
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect();
    for p in paths {
        let mut opts = ApplyOptions::new();
        let wanted = p.clone();
        opts.delta_callback(move |d| {
            let d = match d {
                Some(d) => d,
                None => return false,
            };
            let name = d.old_file().path().or(d.new_file().path());
            name.is_some_and(|n| n.to_string_lossy() == wanted)
        });
        if repo.apply_to_tree(tree, diff, Some(&mut opts)).is_err() {
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_cleaned_like_mailinfo() {
        assert_eq!(
            clean_subject("[PATCH 2/5] kubelet: fix  it"),
            "kubelet: fix it"
        );
        assert_eq!(clean_subject("Re: [PATCH v2] [RFC] x"), "x");
        assert_eq!(clean_subject("  :re: Subject\there "), "Subject here");
        assert_eq!(clean_subject("[PATCH] [not closed"), "[not closed");
        assert_eq!(clean_subject("Reword"), "Reword");
    }

    #[test]
    fn offsets() {
        assert_eq!(date_offset_minutes("Mon, 1 Jan 2024 12:00:00 +0900"), 540);
        assert_eq!(date_offset_minutes("Mon, 1 Jan 2024 12:00:00 -0130"), -90);
        assert_eq!(date_offset_minutes("Mon, 1 Jan 2024 12:00:00 GMT"), 0);
    }

    #[test]
    fn stripspace() {
        assert_eq!(strip_space("\n\nsubj\n\n\n\nbody  \n\n"), "subj\n\nbody\n");
        assert_eq!(strip_space("subj\n\n"), "subj\n");
    }

    #[test]
    fn parses_a_format_patch_mail() {
        let mail = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n\
From: =?UTF-8?q?J=C3=B6rg=20Tester?= <jt@example.org>\n\
Date: Tue, 2 Jan 2024 03:04:05 +0530\n\
Subject: [PATCH 1/2] hello: say\n hello louder\n\
\n\
Longer explanation.\n\
\n\
Signed-off-by: J <jt@example.org>\n\
---\n\
 hello.sh | 2 +-\n\
 1 file changed, 1 insertion(+), 1 deletion(-)\n\
\n\
diff --git a/hello.sh b/hello.sh\n\
index 1111111..2222222 100755\n\
--- a/hello.sh\n\
+++ b/hello.sh\n\
@@ -1 +1 @@\n\
-echo hi\n\
+echo HI\n\
-- \n\
2.39.5\n\
\n";
        let mails = parse_mbox(mail.as_bytes()).unwrap();
        assert_eq!(mails.len(), 1);
        let m = &mails[0];
        assert_eq!(m.author_name, "Jörg Tester");
        assert_eq!(m.author_email, "jt@example.org");
        assert_eq!(m.offset_minutes, 330);
        assert_eq!(m.time, 1704144845);
        assert_eq!(
            m.message,
            "hello: say hello louder\n\nLonger explanation.\n\nSigned-off-by: J <jt@example.org>\n"
        );
        assert!(
            m.diff.starts_with(b"---\n"),
            "the diff part starts at the patch break"
        );
        assert!(m.diff.windows(21).any(|w| w == b"diff --git a/hello.sh"));
    }

    #[test]
    fn inbody_headers_override() {
        let mail = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n\
From: Sender <s@example.org>\n\
Date: Tue, 2 Jan 2024 03:04:05 +0000\n\
Subject: [PATCH] sent\n\
\n\
From: Real Author <ra@example.org>\n\
Date: Wed, 3 Jan 2024 00:00:00 -0700\n\
\n\
Body.\n\
---\n\
diff --git a/a b/a\n\
--- a/a\n\
+++ b/a\n\
@@ -1 +1 @@\n\
-x\n\
+y\n";
        let m = &parse_mbox(mail.as_bytes()).unwrap()[0];
        assert_eq!(m.author_name, "Real Author");
        assert_eq!(m.offset_minutes, -420);
        assert_eq!(m.message, "sent\n\nBody.\n");
    }

    #[test]
    fn a_mail_without_a_diff_is_refused() {
        let mail = "From: a <a@b>\nDate: Tue, 2 Jan 2024 03:04:05 +0000\nSubject: [PATCH 0/3] cover\n\nhello\n";
        assert!(parse_mbox(mail.as_bytes()).unwrap_err().contains("no diff"));
    }

    #[test]
    fn author_fallbacks() {
        assert_eq!(
            parse_author("<x@y.z>").unwrap(),
            ("x@y.z".into(), "x@y.z".into())
        );
        assert_eq!(
            parse_author("\"Doe, Jane\" <j@d.e>").unwrap(),
            ("Doe, Jane".into(), "j@d.e".into())
        );
    }
}
