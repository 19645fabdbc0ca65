//! A small in-memory filesystem on the server framework, used by the host tests.

use super::{Filesystem, ServerError};
use crate::codec::{
    DMAPPEND, DMDIR, DMEXCL, DMTMP, Dir, ORDWR, OTRUNC, OWRITE, QTAPPEND, QTDIR, QTEXCL, QTTMP,
    Qid, Stat,
};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

struct MemNode {
    name: String,
    parent: usize,
    mode: u32,
    version: u32,
    data: Vec<u8>,
    children: Vec<usize>,
    uid: String,
    gid: String,
    muid: String,
    atime: u32,
    mtime: u32,
}

/// An in-memory tree. Node 0 is the root; removed nodes are never reused, so
/// a fid left on a removed file gets "file does not exist".
pub struct MemFs {
    nodes: Vec<Option<MemNode>>,
    now: u32,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new("lux9")
    }
}

impl MemFs {
    /// An empty tree whose root is owned by `owner`.
    pub fn new(owner: &str) -> Self {
        let root = MemNode {
            name: "/".into(),
            parent: 0,
            mode: DMDIR | 0o775,
            version: 0,
            data: Vec::new(),
            children: Vec::new(),
            uid: owner.into(),
            gid: owner.into(),
            muid: owner.into(),
            atime: 0,
            mtime: 0,
        };
        Self {
            nodes: alloc::vec![Some(root)],
            now: 0,
        }
    }

    /// Sets the clock used for atime and mtime (seconds since the epoch).
    pub fn set_time(&mut self, now: u32) {
        self.now = now;
    }

    fn node(&self, n: usize) -> Result<&MemNode, ServerError> {
        self.nodes
            .get(n)
            .and_then(Option::as_ref)
            .ok_or(ServerError::NotFound)
    }

    fn node_mut(&mut self, n: usize) -> Result<&mut MemNode, ServerError> {
        self.nodes
            .get_mut(n)
            .and_then(Option::as_mut)
            .ok_or(ServerError::NotFound)
    }

    fn child(&self, dir: usize, name: &str) -> Option<usize> {
        let d = self.node(dir).ok()?;
        d.children
            .iter()
            .copied()
            .find(|&c| self.node(c).is_ok_and(|n| n.name == name))
    }

    /// Adds a file (and any missing directories) for seeding a test tree.
    pub fn add_file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<usize, ServerError> {
        let mut dir = 0;
        let names: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (last, parents) = names.split_last().ok_or(ServerError::BadName)?;
        for name in parents {
            dir = match self.child(dir, name) {
                Some(c) => c,
                None => self.insert(dir, name, DMDIR | 0o775)?,
            };
        }
        let n = self.insert(dir, last, perm)?;
        self.node_mut(n)?.data = data.to_vec();
        Ok(n)
    }

    fn insert(&mut self, dir: usize, name: &str, mode: u32) -> Result<usize, ServerError> {
        if self.child(dir, name).is_some() {
            return Err(ServerError::Exists);
        }
        let d = self.node(dir)?;
        if d.mode & DMDIR == 0 {
            return Err(ServerError::NotDirectory);
        }
        let node = MemNode {
            name: name.to_string(),
            parent: dir,
            mode,
            version: 0,
            data: Vec::new(),
            children: Vec::new(),
            uid: d.uid.clone(),
            gid: d.gid.clone(),
            muid: d.uid.clone(),
            atime: self.now,
            mtime: self.now,
        };
        let n = self.nodes.len();
        self.nodes.push(Some(node));
        let now = self.now;
        let d = self.node_mut(dir)?;
        d.children.push(n);
        d.version = d.version.wrapping_add(1);
        d.mtime = now;
        Ok(n)
    }

    fn touch(&mut self, n: usize) -> Result<(), ServerError> {
        let now = self.now;
        let node = self.node_mut(n)?;
        node.version = node.version.wrapping_add(1);
        node.mtime = now;
        Ok(())
    }
}

fn qid_of(n: usize, node: &MemNode) -> Qid {
    let mut typ = 0;
    for (dm, qt) in [
        (DMDIR, QTDIR),
        (DMAPPEND, QTAPPEND),
        (DMEXCL, QTEXCL),
        (DMTMP, QTTMP),
    ] {
        if node.mode & dm != 0 {
            typ |= qt;
        }
    }
    Qid {
        typ,
        version: node.version,
        path: n as u64,
    }
}

impl Filesystem for MemFs {
    type Node = usize;

    fn attach(&mut self, _uname: &str, aname: &str) -> Result<usize, ServerError> {
        match aname {
            "" | "/" => Ok(0),
            _ => Err(ServerError::Other("no such tree to attach".into())),
        }
    }

    fn qid(&mut self, node: &usize) -> Result<Qid, ServerError> {
        Ok(qid_of(*node, self.node(*node)?))
    }

    fn walk(&mut self, dir: &usize, name: &str) -> Result<usize, ServerError> {
        match name {
            ".." => Ok(self.node(*dir)?.parent),
            "." => Err(ServerError::BadName),
            _ => self.child(*dir, name).ok_or(ServerError::NotFound),
        }
    }

    fn open(&mut self, node: &usize, mode: u8) -> Result<u32, ServerError> {
        let n = self.node(*node)?;
        let writes = matches!(mode & 3, OWRITE | ORDWR) || mode & OTRUNC != 0;
        if writes && n.mode & 0o200 == 0 {
            return Err(ServerError::PermissionDenied);
        }
        if mode & OTRUNC != 0 && n.mode & DMAPPEND == 0 {
            self.node_mut(*node)?.data.clear();
            self.touch(*node)?;
        }
        Ok(0)
    }

    fn create(
        &mut self,
        dir: &usize,
        name: &str,
        perm: u32,
        _mode: u8,
    ) -> Result<(usize, u32), ServerError> {
        let d = self.node(*dir)?;
        if d.mode & 0o200 == 0 {
            return Err(ServerError::PermissionDenied);
        }
        // Plan 9: the directory's permissions mask the new file's.
        let mode = if perm & DMDIR != 0 {
            perm & (!0o777 | (d.mode & 0o777))
        } else {
            perm & (!0o666 | (d.mode & 0o666))
        };
        Ok((self.insert(*dir, name, mode)?, 0))
    }

    fn read(&mut self, node: &usize, offset: u64, buf: &mut [u8]) -> Result<usize, ServerError> {
        let now = self.now;
        let n = self.node_mut(*node)?;
        n.atime = now;
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(src) = n.data.get(start..) else {
            return Ok(0);
        };
        let len = src.len().min(buf.len());
        buf[..len].copy_from_slice(&src[..len]);
        Ok(len)
    }

    fn read_dir(&mut self, node: &usize) -> Result<Vec<Dir>, ServerError> {
        let children = self.node(*node)?.children.clone();
        children.iter().map(|c| self.stat(c)).collect()
    }

    fn write(&mut self, node: &usize, offset: u64, data: &[u8]) -> Result<usize, ServerError> {
        let n = self.node_mut(*node)?;
        let start = if n.mode & DMAPPEND != 0 {
            n.data.len()
        } else {
            usize::try_from(offset).map_err(|_| ServerError::Other("offset too large".into()))?
        };
        let end = start
            .checked_add(data.len())
            .filter(|&e| e <= 1 << 30)
            .ok_or(ServerError::Other("file too large".into()))?;
        if n.data.len() < end {
            n.data.resize(end, 0);
        }
        n.data[start..end].copy_from_slice(data);
        self.touch(*node)?;
        Ok(data.len())
    }

    fn stat(&mut self, node: &usize) -> Result<Dir, ServerError> {
        let n = self.node(*node)?;
        Ok(Dir {
            typ: 0,
            dev: 0,
            qid: qid_of(*node, n),
            mode: n.mode,
            atime: n.atime,
            mtime: n.mtime,
            length: if n.mode & DMDIR != 0 {
                0
            } else {
                n.data.len() as u64
            },
            name: n.name.clone(),
            uid: n.uid.clone(),
            gid: n.gid.clone(),
            muid: n.muid.clone(),
        })
    }

    fn wstat(&mut self, node: &usize, st: &Stat<'_>) -> Result<(), ServerError> {
        let keep = Stat::DONT_TOUCH;
        if st.typ != keep.typ
            || st.dev != keep.dev
            || st.qid != keep.qid
            || !st.uid.is_empty()
            || !st.muid.is_empty()
        {
            return Err(ServerError::PermissionDenied);
        }
        let n = self.node(*node)?;
        let is_dir = n.mode & DMDIR != 0;
        if st.mode != keep.mode && (st.mode & DMDIR != 0) != is_dir {
            return Err(ServerError::Other(
                "cannot change a file into a directory or back".into(),
            ));
        }
        if st.length != keep.length && is_dir && st.length != 0 {
            return Err(ServerError::IsDirectory);
        }
        if !st.name.is_empty() && st.name != n.name {
            if *node == 0 {
                return Err(ServerError::PermissionDenied);
            }
            if self.child(n.parent, st.name).is_some() {
                return Err(ServerError::Exists);
            }
        }
        let new_len = if st.length != keep.length && !is_dir {
            let len = usize::try_from(st.length)
                .ok()
                .filter(|&l| l <= 1 << 30)
                .ok_or(ServerError::Other("file too large".into()))?;
            Some(len)
        } else {
            None
        };
        // All checks done: apply every change or none.
        let n = self.node_mut(*node)?;
        if let Some(len) = new_len {
            n.data.resize(len, 0);
        }
        if !st.name.is_empty() {
            n.name = st.name.to_string();
        }
        if st.mode != keep.mode {
            n.mode = st.mode;
        }
        if st.mtime != keep.mtime {
            n.mtime = st.mtime;
        }
        if st.atime != keep.atime {
            n.atime = st.atime;
        }
        if !st.gid.is_empty() {
            n.gid = st.gid.to_string();
        }
        n.version = n.version.wrapping_add(1);
        Ok(())
    }

    fn remove(&mut self, node: &usize) -> Result<(), ServerError> {
        if *node == 0 {
            return Err(ServerError::PermissionDenied);
        }
        let n = self.node(*node)?;
        if !n.children.is_empty() {
            return Err(ServerError::NotEmpty);
        }
        let parent = n.parent;
        if self.node(parent)?.mode & 0o200 == 0 {
            return Err(ServerError::PermissionDenied);
        }
        self.node_mut(parent)?.children.retain(|c| c != node);
        self.touch(parent)?;
        self.nodes[*node] = None;
        Ok(())
    }
}
