//! `/etc/subuid` and `/etc/subgid`: parsing and the arithmetic nobody else does (total size,
//! ranges containing the user's own id, duplicates, overlaps with other users, a free range).

/// One `owner:start:count` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// 1-based line number.
    pub line: usize,
    /// User name or numeric uid as written.
    pub owner: String,
    pub start: u64,
    pub count: u64,
}

impl Range {
    /// One past the last id.
    pub fn end(&self) -> u64 {
        self.start + self.count
    }
    /// Whether `id` lies in the range.
    pub fn contains(&self, id: u64) -> bool {
        id >= self.start && id < self.end()
    }
    /// Whether two ranges share an id.
    pub fn overlaps(&self, o: &Range) -> bool {
        self.start < o.end() && o.start < self.end() && self.count > 0 && o.count > 0
    }
    /// The line as written back.
    pub fn text(&self) -> String {
        format!("{}:{}:{}", self.owner, self.start, self.count)
    }
}

/// A parsed sub-ID file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubIdFile {
    pub ranges: Vec<Range>,
    /// (line number, text) of lines that are not `owner:start:count`.
    pub bad_lines: Vec<(usize, String)>,
}

/// Parses a sub-ID file.
pub fn parse(text: &str) -> SubIdFile {
    let mut f = SubIdFile::default();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let p: Vec<&str> = l.split(':').collect();
        let parsed = (p.len() == 3 && !p[0].is_empty())
            .then(|| Some((p[1].parse::<u64>().ok()?, p[2].parse::<u64>().ok()?)))
            .flatten();
        match parsed {
            Some((start, count)) => f.ranges.push(Range {
                line: i + 1,
                owner: p[0].to_string(),
                start,
                count,
            }),
            None => f.bad_lines.push((i + 1, raw.to_string())),
        }
    }
    f
}

impl SubIdFile {
    /// The ranges of a user, listed by name or by numeric uid (as newuidmap accepts both).
    pub fn of_user(&self, name: &str, uid: u32) -> Vec<&Range> {
        let uid = uid.to_string();
        self.ranges
            .iter()
            .filter(|r| r.owner == name || r.owner == uid)
            .collect()
    }

    /// Ranges of other owners that overlap one of the user's ranges: (mine, theirs).
    pub fn cross_overlaps(&self, name: &str, uid: u32) -> Vec<(&Range, &Range)> {
        let uid_s = uid.to_string();
        let mine = self.of_user(name, uid);
        let mut out = Vec::new();
        for m in &mine {
            for o in &self.ranges {
                if o.owner != name && o.owner != uid_s && m.overlaps(o) {
                    out.push((*m, o));
                }
            }
        }
        out
    }

    /// The first free range of `count` ids at `100000 + k*65536` (the `useradd` convention)
    /// that overlaps no line of this file and no id in `avoid`.
    pub fn free_start(&self, count: u64, avoid: &[u64]) -> u64 {
        let mut start = 100_000u64;
        loop {
            let cand = Range {
                line: 0,
                owner: String::new(),
                start,
                count,
            };
            let busy = self.ranges.iter().any(|r| r.overlaps(&cand))
                || avoid.iter().any(|&a| cand.contains(a));
            if !busy {
                return start;
            }
            start += 65536;
        }
    }
}

/// Total number of ids in the ranges.
pub fn total(ranges: &[&Range]) -> u64 {
    ranges.iter().map(|r| r.count).sum()
}

/// Pairs of the user's own ranges that overlap (duplicates or partial overlaps); newuidmap
/// rejects such a map with EINVAL.
pub fn self_overlaps<'a>(ranges: &[&'a Range]) -> Vec<(&'a Range, &'a Range)> {
    let mut out = Vec::new();
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            if a.overlaps(b) {
                out.push((*a, *b));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let f = parse(
            "alice:100000:65536\n1000:100000:65536\nbob:150000:65536\n# c\nbroken line\ncarol:x:1\n",
        );
        assert_eq!(f.bad_lines.len(), 2);
        let mine = f.of_user("alice", 1000);
        assert_eq!(mine.len(), 2);
        assert_eq!(total(&mine), 131072);
        assert_eq!(self_overlaps(&mine).len(), 1);
        let x = f.cross_overlaps("alice", 1000);
        assert_eq!(x.len(), 2);
        assert_eq!(x[0].1.owner, "bob");
        // 100000 and 165536 are busy (bob ends at 215536) -> 231072
        assert_eq!(f.free_start(65536, &[]), 231072);
        assert_eq!(parse("").free_start(65536, &[100_001]), 165536);
    }
}
