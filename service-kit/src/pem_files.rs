//! PEM files named by a variable (TLS certificates and keys), read and
//! checked at start so a bad one is a [`ConfigError`] naming the variable.
//! The text returned is the file's, for tonic's `Certificate` and
//! `Identity`; errors never quote the file's content.

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::ConfigError;

/// The file at `path` (the value of `variable`), which must hold at least
/// one PEM certificate.
pub fn read_certificates(variable: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    let pem = read(variable, path)?;
    match CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>() {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        _ => Err(ConfigError::new(
            variable,
            "holds no PEM certificate (BEGIN CERTIFICATE)",
        )),
    }
}

/// The file at `path` (the value of `variable`), which must hold a PEM
/// private key (PKCS#8, PKCS#1 or SEC1).
pub fn read_private_key(variable: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    let pem = read(variable, path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(_) => Ok(pem),
        Err(_) => Err(ConfigError::new(variable, "holds no PEM private key")),
    }
}

fn read(variable: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read the file: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_foreign_file_names_its_variable_in_one_line() {
        let dir = std::env::temp_dir().join(format!("pem-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("not-pem.txt");
        std::fs::write(&text, "hello\n").unwrap();
        let text = text.to_str().unwrap();
        for err in [
            read_certificates("SOME_CERT", "/nonexistent/cert.pem").unwrap_err(),
            read_certificates("SOME_CERT", text).unwrap_err(),
            read_private_key("SOME_CERT", text).unwrap_err(),
        ] {
            assert_eq!(err.variable, "SOME_CERT");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
