//! How the Rust core scales with cores: ingest (parse + verify + build) of one big CRL and of
//! many partition CRLs, and batch checks, with 1, 2, 4, ... threads. Self-contained (it makes
//! its own key, CRLs and queries), so it runs on any machine with just this binary:
//!
//!     cargo build --release -p jpki-fast-core --features synth --example scaling
//!     target/release/examples/scaling [ENTRIES] [MAX_THREADS]      # JSON lines on stdout
//!
//! bench/RESULTS.md records a run on a 16-core machine.

use std::time::Instant;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use jpki_fast_core::assemble::{build_indexes, CrlEntries};
use jpki_fast_core::check::{check, Coverage, Issuers};
use jpki_fast_core::ingest::verify_and_collect;
use jpki_fast_core::synth::{encode_crl, CrlHeader, Entries, Serials, Signer};
use jpki_fast_core::trust::{AnchorParts, Anchors, CaKind};

fn name_der() -> Vec<u8> {
    // C=JP, O=JPKI, OU=JPKI for user authentication
    let atv = |oid: &[u8], value: &str| {
        let mut inner = vec![0x06, oid.len() as u8];
        inner.extend_from_slice(oid);
        inner.push(0x13);
        inner.push(value.len() as u8);
        inner.extend_from_slice(value.as_bytes());
        let mut seq = vec![0x30, inner.len() as u8];
        seq.extend(inner);
        let mut set = vec![0x31, seq.len() as u8];
        set.extend(seq);
        set
    };
    let mut body = atv(&[0x55, 0x04, 0x06], "JP");
    body.extend(atv(&[0x55, 0x04, 0x0A], "JPKI"));
    body.extend(atv(&[0x55, 0x04, 0x0B], "JPKI for user authentication"));
    let mut name = vec![0x30, body.len() as u8];
    name.extend(body);
    name
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let max_threads: usize =
        args.get(2).and_then(|a| a.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |p| p.get()));

    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let pkcs8 = key.as_der().expect("PKCS#8").as_ref().to_vec();
    let spki = key.public_key().as_der().expect("SPKI").as_ref().to_vec();
    let key_id = vec![0x1A; 20];
    let issuer = name_der();
    let signer = Signer::new(&pkcs8, issuer.clone(), Some(key_id.clone())).expect("signer");
    let anchors = Anchors::new(vec![AnchorParts {
        alias: "auth".into(),
        key_id,
        subject_der: issuer.clone(),
        subject: "C=JP, O=JPKI, OU=JPKI for user authentication".into(),
        spki,
        kind: CaKind::Authentication,
        test: false,
        may_sign_crls: true,
        may_sign_certificates: true,
    }
    .into()]);

    // Roughly sequential serials (a third of a range revoked), shuffled; realistic reasons.
    let mut rng = Lcg(2026);
    let base = 0x0500_0000u64;
    let mut serials: Vec<u64> = (0..3 * n as u64).filter(|_| rng.next() % 3 == 0).map(|i| base + i).take(n).collect();
    for i in (1..serials.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        serials.swap(i, j);
    }
    let n = serials.len();
    let now = 1_795_651_200i64;
    let times: Vec<i64> = (0..n).map(|_| now - 3600 - (rng.next() % (5 * 365 * 86400)) as i64).collect();
    let reasons: Vec<u8> = (0..n).map(|_| [4u8, 5, 3, 6, 1, 0, 255][(rng.next() % 7) as usize]).collect();
    let entries = Entries::new(Serials::U64(&serials), &times, Some(&reasons), None).expect("entries");
    let header = CrlHeader { this_update: now - 3600, next_update: Some(now + 86400), crl_number: Some(&[1]), ..Default::default() };

    let t = Instant::now();
    let big = encode_crl(&signer, &header, &entries).expect("encode");
    eprintln!("one CRL of {n} entries, {} MB, encoded in {:.1} s", big.len() / 1_000_000, t.elapsed().as_secs_f64());
    let parts = 3800;
    let per = n.div_ceil(parts);
    let small: Vec<Vec<u8>> = (0..parts)
        .map(|p| {
            let (a, b) = ((p * per).min(n), ((p + 1) * per).min(n));
            encode_crl(&signer, &header, &entries.rows(a, b).expect("rows")).expect("encode")
        })
        .collect();

    let mut queries: Vec<u64> =
        (0..n).map(|i| if i % 2 == 0 { serials[(rng.next() as usize) % n] } else { base + rng.next() % (3 * n as u64) }).collect();
    queries.truncate(n);

    let mut threads = 1;
    while threads <= max_threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| {
            let t = Instant::now();
            let crl = verify_and_collect(&big, &anchors).expect("verify");
            let verify_one = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let built = build_indexes(
                vec![CrlEntries { issuer: 0, partition: 0, records: crl.records, long: crl.long_records, invalidity: crl.invalidity }],
                1,
                None,
            );
            let build_one = t.elapsed().as_secs_f64();

            let t = Instant::now();
            use rayon::prelude::*;
            let verified: Vec<_> = small.par_iter().map(|der| verify_and_collect(der, &anchors).expect("verify")).collect();
            let verify_many = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let crls = verified
                .into_iter()
                .enumerate()
                .map(|(p, c)| CrlEntries {
                    issuer: 0,
                    partition: p as u16,
                    records: c.records,
                    long: c.long_records,
                    invalidity: c.invalidity,
                })
                .collect();
            let _many = build_indexes(crls, 1, None);
            let build_many = t.elapsed().as_secs_f64();

            let views = vec![Some(built[0].view())];
            let coverage = Coverage::at(now, 1, &[0], &[now - 3600], &[now + 86400], &[true]);
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = Instant::now();
                let out = check(&views, Issuers::All(0), None, &queries, &[], &coverage, false);
                best = best.min(t.elapsed().as_secs_f64());
                assert_eq!(out.status.len(), n);
            }
            println!(
                "{{\"threads\": {threads}, \"entries\": {n}, \"one_crl_verify_s\": {verify_one:.3}, \"one_crl_build_s\": {build_one:.3}, \
                 \"partitions\": {parts}, \"partitions_verify_s\": {verify_many:.3}, \"partitions_build_s\": {build_many:.3}, \
                 \"check_s\": {best:.3}, \"check_mps\": {:.1}}}",
                n as f64 / best / 1e6
            );
        });
        threads *= 2;
    }
}
