//! One cryptography library for the whole workspace: ring. rustls (the
//! gRPC link's TLS, Kakao over HTTPS, PostgreSQL) and jsonwebtoken (access
//! tokens, Kakao's id_token) both take a process-wide provider; [`install`]
//! makes ring that provider for both. Linking a second library (aws-lc)
//! cost each binary megabytes of code and resident memory.

mod jwt_ring;

/// Makes ring the process's rustls and jsonwebtoken provider, unless one is
/// already set (every call after the first does nothing). Call it before
/// building a `reqwest::Client` (which, built on rustls without a provider
/// of its own, panics without one) and before signing or verifying a JWT
/// (jsonwebtoken, built without a backend, panics without one).
pub fn install() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(&jwt_ring::PROVIDER);
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
    use ring::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
    };
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    fn claims() -> Claims {
        Claims {
            sub: "u1".to_owned(),
            exp: jsonwebtoken::get_current_timestamp() + 60,
        }
    }

    fn round_trip(alg: Algorithm, signing: &EncodingKey, verifying: &DecodingKey) {
        super::install();
        let token = encode(&Header::new(alg), &claims(), signing).unwrap();
        let decoded = decode::<Claims>(&token, verifying, &Validation::new(alg)).unwrap();
        assert_eq!(decoded.claims.sub, "u1", "{alg:?}");
        let mut tampered = token.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(
            decode::<Claims>(&tampered, verifying, &Validation::new(alg)).is_err(),
            "{alg:?} accepted a tampered signature"
        );
    }

    #[test]
    fn ed25519_tokens_sign_and_verify_from_pkcs8_v1_and_v2_keys() {
        let v2 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(v2.as_ref()).unwrap();
        let public = DecodingKey::from_ed_der(pair.public_key().as_ref());
        round_trip(
            Algorithm::EdDSA,
            &EncodingKey::from_ed_der(v2.as_ref()),
            &public,
        );
        // The same seed in a v1 document (no public key): what aws-lc wrote.
        let seed = &v2.as_ref()[16..48];
        let mut v1 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        v1.extend_from_slice(seed);
        round_trip(Algorithm::EdDSA, &EncodingKey::from_ed_der(&v1), &public);
    }

    #[test]
    fn hmac_and_ecdsa_tokens_sign_and_verify() {
        let secret = b"a secret of some length";
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            round_trip(
                alg,
                &EncodingKey::from_secret(secret),
                &DecodingKey::from_secret(secret),
            );
        }
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        round_trip(
            Algorithm::ES256,
            &EncodingKey::from_ec_der(pkcs8.as_ref()),
            &DecodingKey::from_ec_der(pair.public_key().as_ref()),
        );
    }

    #[test]
    fn a_key_of_another_family_is_refused_not_a_panic() {
        super::install();
        let secret = EncodingKey::from_secret(b"k");
        assert!(encode(&Header::new(Algorithm::EdDSA), &claims(), &secret).is_err());
        assert!(encode(&Header::new(Algorithm::RS256), &claims(), &secret).is_err());
    }
}
