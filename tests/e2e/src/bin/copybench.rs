//! copybench: the guest side of `scripts/bench-copy` (data written for the copy
//! benchmarks, and the JSON the engine prints read back).
//!
//! - `copybench fill DEV [--seed N]`: fills the whole device with pseudo-random data
//!   (direct I/O), so that no copy can profit from zero or repeated blocks;
//! - `copybench dirty DEV --percent P --pattern clustered|scattered [--chunk-kib K]
//!   [--seed N]`: writes fresh pseudo-random data to P% of the device's K KiB chunks
//!   (default 32), either one contiguous run at a random place or chunks picked at
//!   random; prints `chunks_written=W chunks_total=T`;
//! - `copybench json [FIELD...]`: reads one JSON document on stdin; prints it on one
//!   line, or the value of each top-level FIELD on its own line (`null` if absent).

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use dmtarget::ondisk::DirectFile;

/// Bytes written per request by `fill`.
const FILL_IO: usize = 4 << 20;

/// splitmix64: fast, seedable, good enough to make every block distinct.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for w in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            w.copy_from_slice(&v[..w.len()]);
        }
    }
}

fn usage() -> String {
    "usage: copybench fill DEV [--seed N]\n       copybench dirty DEV --percent P --pattern clustered|scattered [--chunk-kib K] [--seed N]\n       copybench json [FIELD...]".to_string()
}

/// `--name value` options after the positional arguments.
#[derive(Debug, Default)]
struct Opts {
    seed: Option<u64>,
    percent: Option<f64>,
    pattern: Option<String>,
    chunk_kib: Option<u64>,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{a} {v}: {e}");
        match a.as_str() {
            "--seed" => o.seed = Some(v.parse().map_err(|e| bad(&e))?),
            "--percent" => o.percent = Some(v.parse().map_err(|e| bad(&e))?),
            "--pattern" => o.pattern = Some(v.clone()),
            "--chunk-kib" => o.chunk_kib = Some(v.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

fn open(dev: &str) -> Result<DirectFile, String> {
    let f = DirectFile::open(Path::new(dev), true).map_err(|e| format!("{dev}: {e}"))?;
    if !f.is_direct() {
        return Err(format!("{dev}: direct I/O refused"));
    }
    Ok(f)
}

fn write_at(f: &mut DirectFile, dev: &str, off: u64, buf: &[u8]) -> Result<(), String> {
    f.seek(SeekFrom::Start(off))
        .and_then(|_| f.write_all(buf))
        .map_err(|e| format!("{dev}: writing at byte {off}: {e}"))
}

fn fill(dev: &str, o: &Opts) -> Result<(), String> {
    let mut f = open(dev)?;
    let size = f.size();
    let mut rng = Rng(o.seed.unwrap_or(1));
    let mut buf = vec![0u8; FILL_IO];
    let t = Instant::now();
    let mut off = 0;
    while off < size {
        let n = FILL_IO.min((size - off) as usize);
        rng.fill(&mut buf[..n]);
        write_at(&mut f, dev, off, &buf[..n])?;
        off += n as u64;
    }
    let s = t.elapsed().as_secs_f64();
    println!("filled {dev}: {} MiB in {s:.1} s", size >> 20);
    Ok(())
}

/// The chunks to write: `k` of `n`, one run from a random start or random chunks.
fn pick(n: u64, k: u64, pattern: &str, rng: &mut Rng) -> Result<Vec<u64>, String> {
    match pattern {
        "clustered" => {
            let start = if k < n { rng.below(n - k + 1) } else { 0 };
            Ok((start..start + k).collect())
        }
        "scattered" => {
            let mut set = BTreeSet::new();
            if k * 2 > n {
                // Dense: choose the chunks to leave out instead.
                let mut out = BTreeSet::new();
                while out.len() as u64 + k < n {
                    out.insert(rng.below(n));
                }
                set.extend((0..n).filter(|c| !out.contains(c)));
            } else {
                while (set.len() as u64) < k {
                    set.insert(rng.below(n));
                }
            }
            Ok(set.into_iter().collect())
        }
        other => Err(format!("unknown pattern {other} (clustered, scattered)")),
    }
}

fn dirty(dev: &str, o: &Opts) -> Result<(), String> {
    let percent = o.percent.ok_or("--percent is needed")?;
    if !(0.0..=100.0).contains(&percent) {
        return Err(format!("--percent {percent}: not in 0..=100"));
    }
    let pattern = o.pattern.as_deref().ok_or("--pattern is needed")?;
    let chunk = o.chunk_kib.unwrap_or(32) * 1024;
    if chunk == 0 || !chunk.is_multiple_of(4096) {
        return Err(format!(
            "--chunk-kib: {} is not a multiple of 4",
            chunk / 1024
        ));
    }
    let mut f = open(dev)?;
    let n = f.size() / chunk;
    let k = ((n as f64) * percent / 100.0).round() as u64;
    let mut rng = Rng(o.seed.unwrap_or(2));
    let chunks = pick(n, k, pattern, &mut rng)?;
    let mut buf = vec![0u8; chunk as usize];
    for c in &chunks {
        rng.fill(&mut buf);
        write_at(&mut f, dev, c * chunk, &buf)?;
    }
    println!("chunks_written={} chunks_total={n}", chunks.len());
    Ok(())
}

fn json(fields: &[String]) -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading stdin: {e}"))?;
    let v: serde_json::Value =
        serde_json::from_str(&input).map_err(|e| format!("not JSON ({e}): {input}"))?;
    if fields.is_empty() {
        println!("{v}");
    }
    for f in fields {
        match v.get(f) {
            Some(serde_json::Value::String(s)) => println!("{s}"),
            Some(x) => println!("{x}"),
            None => println!("null"),
        }
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, rest @ ..] if cmd == "json" => json(rest),
        [cmd, dev, rest @ ..] if cmd == "fill" => fill(dev, &parse_opts(rest)?),
        [cmd, dev, rest @ ..] if cmd == "dirty" => dirty(dev, &parse_opts(rest)?),
        _ => Err(usage()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("copybench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_chunks_in_range() {
        let mut rng = Rng(7);
        for (n, k) in [(100, 0), (100, 1), (100, 10), (100, 60), (100, 100), (1, 1)] {
            for pattern in ["clustered", "scattered"] {
                let v = pick(n, k, pattern, &mut rng).unwrap();
                assert_eq!(v.len() as u64, k, "{pattern} {k} of {n}");
                assert!(v.iter().all(|c| *c < n));
                assert!(v.windows(2).all(|w| w[0] < w[1]));
                if pattern == "clustered" && k > 0 {
                    assert_eq!(v[v.len() - 1] - v[0] + 1, k);
                }
            }
        }
        assert!(pick(10, 1, "other", &mut rng).is_err());
    }
}
