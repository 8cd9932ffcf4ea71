//! GHL webhook signatures: Ed25519 over the raw request body, base64 in `x-ghl-signature`.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, VerifyingKey, pkcs8::DecodePublicKey};

/// Verifies `x-ghl-signature` with the app's public key.
#[derive(Clone)]
pub struct GhlVerifier {
    key: VerifyingKey,
}

impl GhlVerifier {
    /// From base64 of the 32 raw key bytes, or a PEM `PUBLIC KEY`.
    pub fn new(key: &str) -> Result<Self, String> {
        let key = key.trim();
        let key = if key.starts_with("-----BEGIN") {
            VerifyingKey::from_public_key_pem(key)
                .map_err(|e| format!("sync.ghl_webhook_public_key: not an Ed25519 PEM key: {e}"))?
        } else {
            let bytes = STANDARD
                .decode(key)
                .map_err(|e| format!("sync.ghl_webhook_public_key: not base64: {e}"))?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
                "sync.ghl_webhook_public_key: an Ed25519 key is 32 bytes".to_string()
            })?;
            VerifyingKey::from_bytes(&bytes)
                .map_err(|e| format!("sync.ghl_webhook_public_key: invalid key: {e}"))?
        };
        Ok(Self { key })
    }

    /// True when `signature` (base64) signs exactly `body`.
    pub fn verify(&self, body: &[u8], signature: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(signature.trim()) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.key.verify_strict(body, &signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn pair() -> (SigningKey, GhlVerifier) {
        let signing = SigningKey::from_bytes(&[7u8; 32]);
        let verifier =
            GhlVerifier::new(&STANDARD.encode(signing.verifying_key().to_bytes())).unwrap();
        (signing, verifier)
    }

    #[test]
    fn a_signature_over_the_exact_body_verifies() {
        let (signing, verifier) = pair();
        let body = br#"{"type":"ContactCreate","id":"c1"}"#;
        let signature = STANDARD.encode(signing.sign(body).to_bytes());
        assert!(verifier.verify(body, &signature));
    }

    #[test]
    fn a_changed_body_or_a_garbled_signature_fails() {
        let (signing, verifier) = pair();
        let signature = STANDARD.encode(signing.sign(b"{}").to_bytes());
        assert!(!verifier.verify(b"{ }", &signature));
        assert!(!verifier.verify(b"{}", "not base64!"));
        assert!(!verifier.verify(b"{}", &STANDARD.encode([0u8; 10])));
    }

    #[test]
    fn a_bad_key_is_named() {
        let error = GhlVerifier::new("short").err().unwrap_or_default();
        assert!(error.contains("ghl_webhook_public_key"), "{error}");
    }
}
