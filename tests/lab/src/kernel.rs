//! The guest kernel: a Debian kernel package extracted by `scripts/deps`.

use std::path::{Path, PathBuf};

use crate::error::{io_ctx, Context, Error, Result};

/// An extracted kernel package: `<root>/boot/vmlinuz-<version>` and
/// `<root>/lib/modules/<version>/`.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub root: PathBuf,
    pub version: String,
}

impl Kernel {
    /// `$DSIMAGE_LAB_KERNEL_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/dsimage/kernel`.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(d) = std::env::var_os("DSIMAGE_LAB_KERNEL_DIR") {
            return Ok(PathBuf::from(d));
        }
        let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            Some(c) => PathBuf::from(c),
            None => PathBuf::from(
                std::env::var_os("HOME").ok_or_else(|| Error::Setup("HOME is not set".into()))?,
            )
            .join(".cache"),
        };
        Ok(cache.join("dsimage").join("kernel"))
    }

    /// The kernel `scripts/deps` fetched last.
    pub fn find() -> Result<Kernel> {
        Kernel::at(&Kernel::default_root()?)
    }

    /// The kernel named by `<root>/current`, else the highest version there.
    pub fn at(root: &Path) -> Result<Kernel> {
        let current = std::fs::read_to_string(root.join("current"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let version = match current {
            Some(v) => v,
            None => {
                let boot = root.join("boot");
                let mut versions: Vec<String> = std::fs::read_dir(&boot)
                    .map_err(|_| Error::Setup(format!("no kernel in {}", root.display())))?
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().into_string().ok()?;
                        name.strip_prefix("vmlinuz-").map(str::to_string)
                    })
                    .collect();
                versions.sort_by_key(|v| version_key(v));
                versions
                    .pop()
                    .ok_or_else(|| Error::Setup(format!("no vmlinuz-* in {}", boot.display())))?
            }
        };
        let k = Kernel {
            root: root.to_path_buf(),
            version,
        };
        if !k.image().is_file() || !k.modules_dir().join("kernel").is_dir() {
            return Err(Error::Setup(format!(
                "kernel {} incomplete in {}",
                k.version,
                root.display()
            )));
        }
        Ok(k)
    }

    /// The compressed kernel from the package.
    pub fn image(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinuz-{}", self.version))
    }

    /// What QEMU boots: the uncompressed ELF `vmlinux-<version>` that
    /// `scripts/deps` extracts when the kernel has a PVH entry (seconds
    /// faster under TCG), else the package's bzImage.
    pub fn boot_image(&self) -> PathBuf {
        let elf = self
            .root
            .join("boot")
            .join(format!("vmlinux-{}", self.version));
        if elf.is_file() {
            elf
        } else {
            self.image()
        }
    }

    pub fn modules_dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.version)
    }

    /// Modules compiled into the image, by normalized name (`dm_mod`).
    pub fn builtin_modules(&self) -> Result<Vec<String>> {
        let path = self.modules_dir().join("modules.builtin");
        let text = std::fs::read_to_string(&path).ctx(io_ctx("reading", &path))?;
        Ok(text.lines().filter_map(module_name).collect())
    }
}

/// `kernel/drivers/md/dm-mod.ko[.xz]` -> `dm_mod`.
pub(crate) fn module_name(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split(".ko").next().filter(|_| file.contains(".ko"))?;
    Some(normalize(stem))
}

/// Module names treat `-` and `_` alike.
pub(crate) fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// "6.1.0-56-amd64" sorts numerically part by part.
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split(['.', '-'])
        .map(|p| (p.parse().unwrap_or(0), p.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            module_name("kernel/drivers/md/dm-mod.ko").unwrap(),
            "dm_mod"
        );
        assert_eq!(module_name("kernel/lib/crc16.ko.xz").unwrap(), "crc16");
        assert_eq!(module_name("modules.dep"), None);
        assert!(version_key("6.1.0-56-amd64") > version_key("6.1.0-9-amd64"));
    }
}
