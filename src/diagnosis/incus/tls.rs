//! TLS as the incus CLI does it: TLS 1.3, the client certificate, and the server certificate
//! pinned by `incus remote add` (matched exactly; Incus certificates are self-signed and name
//! no member address).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::ClientError;

/// The server presented another certificate than the pinned one (found again by type in the
/// chain of causes of a failed request).
#[derive(Debug)]
pub struct PinMismatch;

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("server certificate does not match the pinned certificate")
    }
}

impl std::error::Error for PinMismatch {}

/// Whether `e` (or one of its causes) is a [`PinMismatch`].
pub fn is_pin_mismatch(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<PinMismatch>() {
            return true;
        }
        if let Some(rustls::Error::Other(other)) = err.downcast_ref::<rustls::Error>()
            && other.0.is::<PinMismatch>()
        {
            return true;
        }
        // io::Error::source() skips the error it wraps; look at that one too.
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && is_pin_mismatch(inner)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

#[derive(Debug)]
struct Pinned {
    cert: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::Other(rustls::OtherError(
                std::sync::Arc::new(PinMismatch),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Builds the TLS configuration; `pinned` is the PEM of the pinned server certificate.
pub fn client_config(
    cert_pem: &[u8],
    cert_path: &Path,
    key_pem: &[u8],
    key_path: &Path,
    pinned: Option<&[u8]>,
) -> Result<rustls::ClientConfig, ClientError> {
    let bad = |path: &Path, detail: String| ClientError::Certificate {
        path: path.to_path_buf(),
        detail,
    };
    let key_text = String::from_utf8_lossy(key_pem);
    if key_text.contains("ENCRYPTED") {
        return Err(ClientError::EncryptedKey {
            path: key_path.to_path_buf(),
        });
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert_path, format!("not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(bad(cert_path, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| bad(key_path, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad(cert_path, e.to_string()))?;
    let builder = match pinned {
        Some(pem) => {
            let cert =
                CertificateDer::from_pem_slice(pem).map_err(|e| ClientError::Certificate {
                    path: "servercerts".into(),
                    detail: format!("pinned server certificate is not PEM: {e}"),
                })?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    cert: cert.as_ref().to_vec(),
                    algorithms: provider_algorithms(&provider),
                }))
        }
        None => {
            // No pinned certificate: the server must present one signed by a system CA.
            let roots = system_roots();
            builder.with_root_certificates(roots)
        }
    };
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| bad(key_path, format!("does not match the certificate: {e}")))
}

fn provider_algorithms(p: &CryptoProvider) -> WebPkiSupportedAlgorithms {
    p.signature_verification_algorithms
}

fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for path in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        if let Ok(pem) = std::fs::read(path) {
            for c in CertificateDer::pem_slice_iter(&pem).flatten() {
                let _ = roots.add(c);
            }
        }
    }
    roots
}
