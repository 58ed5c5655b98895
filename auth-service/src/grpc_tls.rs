//! TLS on the gRPC port and who the caller is.
//!
//! [`GrpcTls`] holds the server's certificate and key
//! (`AUTH_GRPC_TLS_CERT`, `AUTH_GRPC_TLS_KEY`) and the CA whose client
//! certificates are then required (`AUTH_GRPC_CLIENT_CA`), all read and
//! checked when the settings are read, so a bad file stops the start with one
//! line naming its variable. [`AdminClients`] (`AUTH_GRPC_ADMIN_CLIENTS`)
//! names the callers, by the CN or a DNS name of their verified client
//! certificate, that may read any user (`GetUser` without a session).

use std::{fmt, sync::Arc};

use rustls_pki_types::CertificateDer;
use service_kit::{
    ConfigError,
    pem_files::{read_certificates, read_private_key},
};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use x509_cert::{
    der::{
        Decode,
        asn1::{PrintableStringRef, Utf8StringRef},
    },
    ext::pkix::{SubjectAltName, name::GeneralName},
};

/// The X.520 `commonName` attribute (2.5.4.3).
const COMMON_NAME: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.4.3");

/// The gRPC server's TLS material, read from PEM files at start.
#[derive(Clone)]
pub struct GrpcTls {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    client_ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for GrpcTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcTls")
            .field("client_ca", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl GrpcTls {
    /// Reads `AUTH_GRPC_TLS_CERT`, `AUTH_GRPC_TLS_KEY` and
    /// `AUTH_GRPC_CLIENT_CA` through `get` (unset or empty: `None`). `None`
    /// when no TLS is configured; an error naming the variable when a file
    /// is missing, holds no PEM certificate or key, when the key does not
    /// go with the certificate, or when one of the pair is set alone.
    pub fn from_vars<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Option<GrpcTls>, ConfigError> {
        let (cert, key, ca) = (
            get("AUTH_GRPC_TLS_CERT"),
            get("AUTH_GRPC_TLS_KEY"),
            get("AUTH_GRPC_CLIENT_CA"),
        );
        let (cert, key) = match (cert, key) {
            (None, None) if ca.is_some() => {
                return Err(ConfigError::new(
                    "AUTH_GRPC_CLIENT_CA",
                    "needs AUTH_GRPC_TLS_CERT and AUTH_GRPC_TLS_KEY",
                ));
            }
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "AUTH_GRPC_TLS_KEY",
                    "required with AUTH_GRPC_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "AUTH_GRPC_TLS_CERT",
                    "required with AUTH_GRPC_TLS_KEY",
                ));
            }
            (Some(cert), Some(key)) => (cert, key),
        };
        let mut tls = GrpcTls {
            cert_pem: read_certificates("AUTH_GRPC_TLS_CERT", cert)?,
            key_pem: read_private_key("AUTH_GRPC_TLS_KEY", key)?,
            client_ca_pem: None,
        };
        service_kit::crypto::install();
        Server::builder()
            .tls_config(tls.server_config())
            .map_err(|_| {
                ConfigError::new(
                    "AUTH_GRPC_TLS_KEY",
                    "not the key of AUTH_GRPC_TLS_CERT's certificate, or not usable",
                )
            })?;
        if let Some(ca) = ca {
            tls.client_ca_pem = Some(read_certificates("AUTH_GRPC_CLIENT_CA", ca)?);
            Server::builder()
                .tls_config(tls.server_config())
                .map_err(|_| ConfigError::new("AUTH_GRPC_CLIENT_CA", "not a usable CA"))?;
        }
        Ok(Some(tls))
    }

    /// Whether a client certificate signed by `AUTH_GRPC_CLIENT_CA` is
    /// required of every caller.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_ca_pem.is_some()
    }

    /// tonic's server TLS configuration: this identity, and a required
    /// client certificate when a client CA is set.
    pub fn server_config(&self) -> ServerTlsConfig {
        let config =
            ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        match &self.client_ca_pem {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        }
    }
}

/// `AUTH_GRPC_ADMIN_CLIENTS`: the client certificate names (CN or DNS
/// subject alternative name, compared without case) allowed to read any
/// user. Empty: nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminClients(Vec<String>);

impl AdminClients {
    /// Parses a comma-separated list of names. It needs client
    /// certificates, so `requires_client_certificates` must hold.
    pub fn parse(
        list: Option<&str>,
        requires_client_certificates: bool,
    ) -> Result<AdminClients, ConfigError> {
        let names: Vec<String> = list
            .unwrap_or("")
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if !names.is_empty() && !requires_client_certificates {
            return Err(ConfigError::new(
                "AUTH_GRPC_ADMIN_CLIENTS",
                "needs AUTH_GRPC_CLIENT_CA (callers are known by their client certificate)",
            ));
        }
        Ok(AdminClients(names))
    }

    /// Whether the caller that presented `peer_certs` (verified against the
    /// client CA by the TLS handshake; the first is its own) is listed.
    pub fn allows(&self, peer_certs: Option<Arc<Vec<CertificateDer<'static>>>>) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let Some(own) = peer_certs.as_deref().and_then(|certs| certs.first()) else {
            return false;
        };
        certificate_names(own)
            .iter()
            .any(|name| self.0.iter().any(|allowed| allowed == name))
    }
}

/// The CN values and DNS subject alternative names of a certificate, lower
/// case; none when it cannot be parsed.
fn certificate_names(der: &CertificateDer<'_>) -> Vec<String> {
    let Ok(cert) = x509_cert::Certificate::from_der(der.as_ref()) else {
        return Vec::new();
    };
    let tbs = &cert.tbs_certificate;
    let common_names = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == COMMON_NAME)
        .filter_map(|attribute| {
            Utf8StringRef::try_from(&attribute.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    PrintableStringRef::try_from(&attribute.value).map(|s| s.as_str().to_owned())
                })
                .ok()
        });
    let dns_names = match tbs.get::<SubjectAltName>() {
        Ok(Some((_, san))) => san
            .0
            .into_iter()
            .filter_map(|name| match name {
                GeneralName::DnsName(dns) => Some(dns.as_str().to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    common_names
        .chain(dns_names)
        .map(|n| n.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(cn: &str, dns: &[&str]) -> CertificateDer<'static> {
        let mut params =
            rcgen::CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_caller_is_known_by_its_common_name_or_a_dns_name_without_case() {
        let admins = AdminClients::parse(Some(" Reports , ops.internal"), true).unwrap();
        let allowed = |cert| admins.allows(Some(Arc::new(vec![cert])));
        assert!(allowed(certificate("reports", &[])));
        assert!(allowed(certificate("edge", &["OPS.internal"])));
        assert!(!allowed(certificate("edge", &["edge.internal"])));
        assert!(!admins.allows(None));
        let nobody = AdminClients::parse(None, true).unwrap();
        assert!(!nobody.allows(Some(Arc::new(vec![certificate("reports", &[])]))));
    }

    #[test]
    fn admin_clients_need_client_certificates() {
        let err = AdminClients::parse(Some("reports"), false).unwrap_err();
        assert_eq!(err.variable, "AUTH_GRPC_ADMIN_CLIENTS");
        assert!(AdminClients::parse(Some(" , "), false).is_ok());
    }
}
