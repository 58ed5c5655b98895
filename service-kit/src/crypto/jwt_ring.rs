//! jsonwebtoken's cryptography on ring: every algorithm of `Algorithm`
//! (HMAC, ECDSA P-256/P-384, RSA PKCS#1 v1.5 and PSS, Ed25519), with the
//! same key formats and checks as the crate's aws-lc provider, so linking
//! ring alone serves rustls (gRPC TLS, Kakao over HTTPS, PostgreSQL) and
//! the tokens.

use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey,
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::{Error, ErrorKind, Result},
    jwk::{EllipticCurve, ThumbprintHash},
    signature,
};
use ring::{
    digest, hmac,
    rand::SystemRandom,
    rsa::PublicKeyComponents,
    signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};

/// The provider: [`super::install`] makes it the process default.
pub(super) static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key,
        rsa_pub_components_from_public_key,
        ec_pub_components_from_private_key,
        ed_pub_components_from_private_key,
        compute_digest,
    },
};

enum SigningKey {
    Hmac(hmac::Key),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair, &'static dyn sig::RsaEncoding),
    Ed25519(Ed25519KeyPair),
}

struct Signer {
    algorithm: Algorithm,
    key: SigningKey,
}

impl signature::Signer<Vec<u8>> for Signer {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        match &self.key {
            SigningKey::Hmac(key) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
            SigningKey::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SigningKey::Rsa(pair, padding) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(*padding, &SystemRandom::new(), msg, &mut signature)
                    .map_err(|_| signature::Error::new())?;
                Ok(signature)
            }
            SigningKey::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for Signer {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn expect_family(actual: AlgorithmFamily, expected: AlgorithmFamily) -> Result<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(ErrorKind::InvalidKeyFormat.into())
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    use Algorithm::*;
    let bytes = key.as_bytes();
    let hmac_key = |alg| -> Result<SigningKey> {
        expect_family(key.family(), AlgorithmFamily::Hmac)?;
        Ok(SigningKey::Hmac(hmac::Key::new(alg, bytes)))
    };
    let ecdsa_key = |alg| -> Result<SigningKey> {
        expect_family(key.family(), AlgorithmFamily::Ec)?;
        EcdsaKeyPair::from_pkcs8(alg, bytes, &SystemRandom::new())
            .map(SigningKey::Ecdsa)
            .map_err(|_| ErrorKind::InvalidEcdsaKey.into())
    };
    let rsa_key = |padding| -> Result<SigningKey> {
        expect_family(key.family(), AlgorithmFamily::Rsa)?;
        RsaKeyPair::from_der(bytes)
            .map(|pair| SigningKey::Rsa(pair, padding))
            .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()).into())
    };
    let key = match algorithm {
        HS256 => hmac_key(hmac::HMAC_SHA256)?,
        HS384 => hmac_key(hmac::HMAC_SHA384)?,
        HS512 => hmac_key(hmac::HMAC_SHA512)?,
        ES256 => ecdsa_key(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)?,
        ES384 => ecdsa_key(&sig::ECDSA_P384_SHA384_FIXED_SIGNING)?,
        RS256 => rsa_key(&sig::RSA_PKCS1_SHA256)?,
        RS384 => rsa_key(&sig::RSA_PKCS1_SHA384)?,
        RS512 => rsa_key(&sig::RSA_PKCS1_SHA512)?,
        PS256 => rsa_key(&sig::RSA_PSS_SHA256)?,
        PS384 => rsa_key(&sig::RSA_PSS_SHA384)?,
        PS512 => rsa_key(&sig::RSA_PSS_SHA512)?,
        EdDSA => {
            expect_family(key.family(), AlgorithmFamily::Ed)?;
            // PKCS#8 v1 (a seed alone) or v2 (with the public key), as the
            // aws-lc provider accepts: keys stored by earlier builds load.
            SigningKey::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
                    .map_err(|_| ErrorKind::InvalidEddsaKey)?,
            )
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(Signer {
        algorithm: *algorithm,
        key,
    }))
}

enum VerifyingKey {
    Hmac(hmac::Key),
    /// A public key in the encoding `algorithm` reads (EC point, Ed25519
    /// bytes, RSA `RSAPublicKey` DER).
    Public(&'static dyn sig::VerificationAlgorithm, Vec<u8>),
    RsaComponents(&'static sig::RsaParameters, Vec<u8>, Vec<u8>),
}

struct Verifier {
    algorithm: Algorithm,
    key: VerifyingKey,
}

impl signature::Verifier<Vec<u8>> for Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        match &self.key {
            VerifyingKey::Hmac(key) => hmac::verify(key, msg, signature),
            VerifyingKey::Public(alg, public) => {
                sig::UnparsedPublicKey::new(*alg, public).verify(msg, signature)
            }
            VerifyingKey::RsaComponents(params, n, e) => {
                PublicKeyComponents { n, e }.verify(params, msg, signature)
            }
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Verifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    use Algorithm::*;
    let hmac_key = |alg| -> Result<VerifyingKey> {
        expect_family(key.family(), AlgorithmFamily::Hmac)?;
        Ok(VerifyingKey::Hmac(hmac::Key::new(
            alg,
            key.try_get_as_bytes()?,
        )))
    };
    let public_key = |family, alg| -> Result<VerifyingKey> {
        expect_family(key.family(), family)?;
        Ok(VerifyingKey::Public(alg, key.try_get_as_bytes()?.to_vec()))
    };
    let rsa_key = |params: &'static sig::RsaParameters| -> Result<VerifyingKey> {
        expect_family(key.family(), AlgorithmFamily::Rsa)?;
        Ok(match key.kind() {
            DecodingKeyKind::SecretOrDer(der) => VerifyingKey::Public(params, der.clone()),
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                VerifyingKey::RsaComponents(params, n.clone(), e.clone())
            }
        })
    };
    let key = match algorithm {
        HS256 => hmac_key(hmac::HMAC_SHA256)?,
        HS384 => hmac_key(hmac::HMAC_SHA384)?,
        HS512 => hmac_key(hmac::HMAC_SHA512)?,
        ES256 => public_key(AlgorithmFamily::Ec, &sig::ECDSA_P256_SHA256_FIXED)?,
        ES384 => public_key(AlgorithmFamily::Ec, &sig::ECDSA_P384_SHA384_FIXED)?,
        RS256 => rsa_key(&sig::RSA_PKCS1_2048_8192_SHA256)?,
        RS384 => rsa_key(&sig::RSA_PKCS1_2048_8192_SHA384)?,
        RS512 => rsa_key(&sig::RSA_PKCS1_2048_8192_SHA512)?,
        PS256 => rsa_key(&sig::RSA_PSS_2048_8192_SHA256)?,
        PS384 => rsa_key(&sig::RSA_PSS_2048_8192_SHA384)?,
        PS512 => rsa_key(&sig::RSA_PSS_2048_8192_SHA512)?,
        EdDSA => public_key(AlgorithmFamily::Ed, &sig::ED25519)?,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(Verifier {
        algorithm: *algorithm,
        key,
    }))
}

fn rsa_pub_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let pair = RsaKeyPair::from_der(der).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    let public = PublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((public.n, public.e))
}

/// ring has no parser for a bare RSA public key; nothing here builds a JWK
/// from one (the service publishes Ed25519 keys only).
fn rsa_pub_components_from_public_key(_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::InvalidRsaKey("an RSA public key DER is not supported".to_owned()).into())
}

fn ec_pub_components_from_private_key(
    pkcs8: &[u8],
    algorithm: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (alg, curve, len) = match algorithm {
        Algorithm::ES256 => (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
            32,
        ),
        Algorithm::ES384 => (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
            48,
        ),
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8, &SystemRandom::new())
        .map_err(|_| Error::from(ErrorKind::InvalidEcdsaKey))?;
    match pair.public_key().as_ref() {
        [4, point @ ..] if point.len() == 2 * len => {
            let (x, y) = point.split_at(len);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn ed_pub_components_from_private_key(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    match curve {
        EllipticCurve::Ed25519 => Ok(Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|_| Error::from(ErrorKind::InvalidEddsaKey))?
            .public_key()
            .as_ref()
            .to_vec()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}
