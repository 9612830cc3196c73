//! Operators' passwords: argon2id hashes as standard PHC strings, so a hash made by any
//! argon2 tool (argon2-cffi, the `argon2` CLI, `operators hash-password`) verifies here.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The longest password verified: argon2 takes any length, but hashing megabytes per
/// guess would let a login form burn the server's CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// An argon2id PHC string of `password` with a fresh random salt and the `argon2` crate's
/// default cost (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
pub fn hash(password: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches `phc`, with the algorithm, version and cost the string
/// names (argon2id, argon2i or argon2d). A string that does not parse matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether `phc` is an argon2 PHC string this module can verify (checked at start-up,
/// so a mistyped hash fails loudly instead of locking its operator out).
pub fn is_argon2_phc(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) && parsed.hash.is_some()
        && argon2::Params::try_from(&parsed).is_ok()
}

/// A hash to verify against when the name is unknown, so a wrong name costs as long as a
/// wrong password and the answer's timing does not tell which names exist.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash("decoy").unwrap_or_default());
    &DECOY
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Python's argon2-cffi 25.1 (`argon2.PasswordHasher().hash("correct horse")`,
    /// its defaults: argon2id, 64 MiB, 3 passes, 4 lanes).
    const ARGON2_CFFI: &str = "$argon2id$v=19$m=65536,t=3,p=4$R9dhK9t8FTKvJwbwubD8oQ$rTG8MOzj4783fpssF9vn8WwY7SdOfF/5t6jt+MBWYG8";

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("s3cret pass").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(is_argon2_phc(&phc));
        assert!(verify("s3cret pass", &phc));
        assert!(!verify("s3cret pasS", &phc));
        assert_ne!(phc, hash("s3cret pass").unwrap(), "a fresh salt each time");
    }

    #[test]
    fn other_tools_hashes_verify() {
        assert!(is_argon2_phc(ARGON2_CFFI));
        assert!(verify("correct horse", ARGON2_CFFI));
        assert!(!verify("correct horse!", ARGON2_CFFI));
    }

    #[test]
    fn junk_is_not_a_hash() {
        for junk in [
            "",
            "plain",
            "$2b$12$abcdefghijklmnopqrstuuJ8m1qD0ZyF5f2Kk3nQbW9xq4T8mJ0Wy",
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ",
            "$pbkdf2-sha256$29000$N2bsnTOm1JoTYuxdqzWGMA$6M3Kz8mM0cY1pDqRk4kq0A",
        ] {
            assert!(!is_argon2_phc(junk), "{junk}");
            assert!(!verify("x", junk));
        }
        assert!(!verify(&"x".repeat(MAX_PASSWORD_BYTES + 1), ARGON2_CFFI));
    }
}
