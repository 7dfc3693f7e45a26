//! `ae nll` on the small 2-D VAE of the `ae` tests: the importance-sampled log-likelihood
//! against the ELBO computed independently (its KL in closed form), and the bounds that hold
//! by Jensen's inequality.

use crate::ae::{args, dense, ok, vae};
use crate::bad_input::assert_fails;
use std::path::Path;

fn report(run: &Path, samples: &str) -> serde_json::Value {
    let out = run.join(format!("nll-{samples}.json"));
    let text = ok(&args(
        "nll",
        run,
        &["--samples", samples, "--out", out.to_str().unwrap()],
    ));
    assert!(text.contains("-log p(x) ~"), "{text}");
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn nll_is_bounded_by_the_elbo_its_draws_estimate() {
    let run = vae();
    // One draw: log mean exp of one log-weight is that log-weight, the sampled ELBO.
    let one = report(run, "1");
    assert!(
        (num(&one, "nll") - num(&one, "neg_elbo_sampled")).abs() < 1e-6,
        "{one}"
    );
    // 200 draws: the sampled ELBO agrees with the closed-form one (the test loss, computed
    // by the training code's loss), and the importance-sampled bound lies below it.
    let many = report(run, "200");
    let (sampled, closed) = (num(&many, "neg_elbo_sampled"), num(&many, "neg_elbo"));
    assert!(
        (sampled - closed).abs() < 0.5,
        "sampled {sampled} vs closed form {closed}"
    );
    assert!(num(&many, "nll") <= sampled, "{many}");
    assert!(num(&many, "nll") > 0.0, "{many}");
    assert_eq!(many["images"], 60);
    assert_eq!(many["samples"], 200);
}

#[test]
fn nll_refuses_what_is_not_a_vae_and_bad_counts() {
    let fail = |a: &[&str], needle: &str| {
        let o = crate::ae::ae(a);
        assert_fails(&o, &format!("{a:?}"), 1, needle);
    };
    fail(
        &args("nll", dense(), &[]),
        "`ae nll` estimates a VAE's likelihood",
    );
    fail(
        &args("nll", vae(), &["--samples", "0"]),
        "--samples 0: give 1 to 1000000",
    );
}
