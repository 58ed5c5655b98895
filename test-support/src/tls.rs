//! Certificates made for one test ([`TestPki`]): a CA, the auth-service's
//! certificate (for `localhost` and `127.0.0.1`) and client certificates
//! with a chosen CN, written as PEM files the way an operator would give
//! them (`AUTH_GRPC_TLS_CERT`, `AUTH_SERVICE_CA`, ...).

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::stack::{TempDir, random_suffix};

/// A certificate and its key, as PEM text and as files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl CertFiles {
    /// tonic's identity of this certificate and key.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, &self.key_pem)
    }
}

/// A throw-away CA with the service's certificate, in a temporary directory.
pub struct TestPki {
    pub dir: TempDir,
    /// The CA certificate (PEM) and its file.
    pub ca_pem: String,
    pub ca_path: PathBuf,
    /// The auth-service's certificate: `localhost`, `127.0.0.1`.
    pub server: CertFiles,
    issuer: Issuer<'static, KeyPair>,
}

impl TestPki {
    /// A new CA and service certificate.
    pub fn new() -> TestPki {
        let dir = std::env::temp_dir().join(format!("auth-pki-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("create pki dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("test CA {}", random_suffix()));
        let key = KeyPair::generate().expect("CA key");
        let ca_pem = params.self_signed(&key).expect("CA certificate").pem();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &ca_pem).expect("write CA");
        let issuer = Issuer::new(params, key);
        let mut pki = TestPki {
            dir: TempDir(dir),
            ca_pem,
            ca_path,
            server: CertFiles {
                cert_pem: String::new(),
                key_pem: String::new(),
                cert_path: PathBuf::new(),
                key_path: PathBuf::new(),
            },
            issuer,
        };
        pki.server = pki.issue(
            "auth-service",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        pki
    }

    /// A client certificate with this CN (and no DNS names).
    pub fn client(&self, common_name: &str) -> CertFiles {
        self.issue(common_name, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(
        &self,
        common_name: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> CertFiles {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages.push(usage);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let stem = format!("{common_name}-{}", random_suffix());
        let files = CertFiles {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_path: self.dir.0.join(format!("{stem}.pem")),
            key_path: self.dir.0.join(format!("{stem}.key")),
        };
        std::fs::write(&files.cert_path, &files.cert_pem).expect("write certificate");
        std::fs::write(&files.key_path, &files.key_pem).expect("write key");
        files
    }

    /// The auth-service's variables for TLS with required client
    /// certificates signed by this CA.
    pub fn service_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AUTH_GRPC_TLS_CERT", path(&self.server.cert_path)),
            ("AUTH_GRPC_TLS_KEY", path(&self.server.key_path)),
            ("AUTH_GRPC_CLIENT_CA", path(&self.ca_path)),
        ]
    }

    /// A client TLS configuration trusting this CA, presenting `client`
    /// when given.
    pub fn client_tls(&self, client: Option<&CertFiles>) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        match client {
            Some(client) => config.identity(client.identity()),
            None => config,
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// A path as the string an environment variable holds.
pub fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}
