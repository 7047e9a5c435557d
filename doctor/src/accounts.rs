//! `/etc/passwd` and `/etc/group`: user name <-> uid, primary and supplementary groups.

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Parses `/etc/passwd` (skips malformed lines and NIS `+` entries).
pub fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 || f[0].starts_with('+') || f[0].starts_with('-') {
                return None;
            }
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// Parses `/etc/group`.
pub fn parse_group(text: &str) -> Vec<Group> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// The user's gids: primary plus every group listing the user as member.
pub fn gids_of(user: &User, groups: &[Group]) -> Vec<u32> {
    let mut v = vec![user.gid];
    for g in groups {
        if g.members.iter().any(|m| m == &user.name) && !v.contains(&g.gid) {
            v.push(g.gid);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let u = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbad\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        );
        assert_eq!(u.len(), 2);
        assert_eq!(u[1].home, "/home/alice");
        let g = parse_group("docker:x:998:alice,bob\nalice:x:1000:\n");
        assert_eq!(gids_of(&u[1], &g), vec![1000, 998]);
    }
}
