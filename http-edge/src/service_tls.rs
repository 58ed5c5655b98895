//! TLS to the auth-service: the CA that signed its certificate
//! (`AUTH_SERVICE_CA`) and the edge's own client certificate and key
//! (`AUTH_SERVICE_CLIENT_CERT`, `AUTH_SERVICE_CLIENT_KEY`), read and checked
//! when the settings are read, so a bad file stops the start with one line
//! naming its variable.

use std::fmt;

use service_kit::{
    ConfigError,
    pem_files::{read_certificates, read_private_key},
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// How the edge reaches an `https://` auth-service.
#[derive(Clone)]
pub struct AuthServiceTls {
    ca_pem: Vec<u8>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for AuthServiceTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServiceTls")
            .field("client_certificate", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthServiceTls {
    /// Reads the TLS variables through `var` for an auth-service at a URL
    /// whose scheme is `https` (`is_https`). `None` for `http`; an error
    /// naming the variable when TLS files are given for `http`, when
    /// `https` has no CA, when a file cannot be read or holds no PEM
    /// certificate or key, when the certificate or key is set alone, or
    /// when the key is not the certificate's.
    pub fn from_vars(
        var: &impl Fn(&str) -> Option<String>,
        is_https: bool,
    ) -> Result<Option<AuthServiceTls>, ConfigError> {
        let ca = var("AUTH_SERVICE_CA");
        let cert = var("AUTH_SERVICE_CLIENT_CERT");
        let key = var("AUTH_SERVICE_CLIENT_KEY");
        if !is_https {
            let set = [
                ("AUTH_SERVICE_CA", &ca),
                ("AUTH_SERVICE_CLIENT_CERT", &cert),
                ("AUTH_SERVICE_CLIENT_KEY", &key),
            ]
            .into_iter()
            .find(|(_, value)| value.is_some());
            return match set {
                Some((name, _)) => {
                    Err(ConfigError::new(name, "needs an https:// AUTH_SERVICE_URL"))
                }
                None => Ok(None),
            };
        }
        let ca = ca.ok_or_else(|| {
            ConfigError::new(
                "AUTH_SERVICE_CA",
                "required with an https:// AUTH_SERVICE_URL",
            )
        })?;
        let client = match (cert, key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "AUTH_SERVICE_CLIENT_KEY",
                    "required with AUTH_SERVICE_CLIENT_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "AUTH_SERVICE_CLIENT_CERT",
                    "required with AUTH_SERVICE_CLIENT_KEY",
                ));
            }
            (Some(cert), Some(key)) => Some((
                read_certificates("AUTH_SERVICE_CLIENT_CERT", &cert)?,
                read_private_key("AUTH_SERVICE_CLIENT_KEY", &key)?,
            )),
        };
        let tls = AuthServiceTls {
            ca_pem: read_certificates("AUTH_SERVICE_CA", &ca)?,
            client,
        };
        // Builds the rustls configuration once now, so a key that does not
        // go with its certificate stops the start instead of every call.
        tonic::transport::Endpoint::from_static("https://localhost")
            .tls_config(tls.client_config())
            .map_err(|_| {
                ConfigError::new(
                    "AUTH_SERVICE_CLIENT_KEY",
                    "not the key of AUTH_SERVICE_CLIENT_CERT's certificate, or not usable",
                )
            })?;
        Ok(Some(tls))
    }

    /// tonic's client TLS configuration: trust only this CA; present the
    /// client certificate when one is set.
    pub fn client_config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        match &self.client {
            Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
            None => config,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn tls(vars: &[(&str, &str)], is_https: bool) -> Result<Option<AuthServiceTls>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AuthServiceTls::from_vars(&|name| map.get(name).cloned(), is_https)
    }

    #[test]
    fn plain_http_needs_no_tls_files_and_takes_none() {
        assert!(tls(&[], false).unwrap().is_none());
        let err = tls(&[("AUTH_SERVICE_CLIENT_KEY", "/k.pem")], false).unwrap_err();
        assert_eq!(err.variable, "AUTH_SERVICE_CLIENT_KEY");
    }

    #[test]
    fn each_bad_tls_setting_names_its_variable_in_one_line() {
        let missing = "/nonexistent/file.pem";
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[], "AUTH_SERVICE_CA"),
            (&[("AUTH_SERVICE_CA", missing)], "AUTH_SERVICE_CA"),
            (
                &[
                    ("AUTH_SERVICE_CA", missing),
                    ("AUTH_SERVICE_CLIENT_CERT", missing),
                ],
                "AUTH_SERVICE_CLIENT_KEY",
            ),
            (
                &[
                    ("AUTH_SERVICE_CA", missing),
                    ("AUTH_SERVICE_CLIENT_KEY", missing),
                ],
                "AUTH_SERVICE_CLIENT_CERT",
            ),
        ];
        for (vars, variable) in cases {
            let err = tls(vars, true).unwrap_err();
            assert_eq!(err.variable, variable, "{vars:?}");
            assert!(!err.to_string().contains('\n'));
        }
    }
}
