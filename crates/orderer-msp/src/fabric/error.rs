//! Why a channel MSP could not be set up, or refused an identity. Each error names
//! the MSP, the certificate (by subject) or the configuration element concerned.

use prost::DecodeError;

use super::chain::ChainError;
use super::crl::{CrlError, RevocationError};
use super::ous::{NodeRole, OuError};
use crate::cert::CertError;

/// Why a certificate is not valid for an MSP (chain, canonical form, revocation, OUs).
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Revoked(#[from] RevocationError),
    #[error(transparent)]
    OrganizationalUnit(#[from] OuError),
    #[error("{subject:?} is not a root or intermediate CA certificate of MSP {msp}")]
    NotMspCa { subject: String, msp: String },
    #[error(
        "{subject:?} issued other intermediate CAs of MSP {msp}; only a CA at the bottom of \
         the certification tree can certify identities"
    )]
    NotLeafCa { subject: String, msp: String },
    #[error(
        "{subject:?} is not a self-signed CA certificate (basicConstraints CA:true), so it \
         cannot be a root CA"
    )]
    NotSelfSignedRoot { subject: String },
    #[error(
        "{subject:?} is a CA certificate (basicConstraints CA:true), which cannot be used \
         as an identity"
    )]
    CaAsIdentity { subject: String },
    #[error("{subject:?} has no issuer")]
    NoIssuer { subject: String },
    #[error(
        "{subject:?} was issued by {issuer:?}, which issues intermediate CAs in MSP {msp}; \
         identities must come from a CA at the bottom of the certification tree"
    )]
    IssuedByInternalCa {
        subject: String,
        issuer: String,
        msp: String,
    },
}

/// Why an identity is outside its certificate's validity period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidityPeriodError {
    #[error("the identity {subject:?} of MSP {msp} is not valid before {not_before}")]
    NotYetValid {
        subject: String,
        msp: String,
        not_before: String,
    },
    #[error("the identity {subject:?} of MSP {msp} expired at {not_after}")]
    Expired {
        subject: String,
        msp: String,
        not_after: String,
    },
}

/// Why serialized identity bytes do not give a valid identity.
#[derive(Debug, thiserror::Error)]
pub enum DeserializeError {
    #[error("there is no creator identity (unsigned)")]
    NoCreator,
    /// Seen by the channel's MSPs.
    #[error("the identity is not a valid msp.SerializedIdentity: {0}")]
    NotSerializedIdentity(#[source] DecodeError),
    /// Seen by one MSP.
    #[error("not a valid msp.SerializedIdentity: {0}")]
    Decode(#[source] DecodeError),
    #[error("the identity belongs to MSP {found:?}, not to {msp}")]
    OtherMsp { found: String, msp: String },
    #[error("MSP {msp:?} is not defined on the channel")]
    UnknownMsp { msp: String },
    #[error("the identity's certificate: {0}")]
    Certificate(#[source] CertError),
    /// `key` describes the certificate's key.
    #[error("the identity's key is not supported ({key}); only ECDSA P-256 and P-384")]
    UnsupportedKey { key: String },
    #[error("the identity is not valid for MSP {msp}: {source}")]
    Invalid {
        msp: String,
        #[source]
        source: Box<ValidationError>,
    },
    #[error(transparent)]
    ValidityPeriod(#[from] ValidityPeriodError),
}

/// Why an MSP could not be built from its configuration. (Nested errors are boxed to
/// keep the `Result`s small.)
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("MSP config is not a valid FabricMSPConfig: {0}")]
    NotFabricMspConfig(#[source] DecodeError),
    #[error("MSP config of type 1 (Idemix) is not supported; only X.509 MSPs (type 0)")]
    Idemix,
    #[error("MSP config of unknown type {0}; only X.509 MSPs (type 0)")]
    UnknownType(i32),
    #[error("MSP config has no name (MSP ID)")]
    NoName,
    /// Any problem of the named MSP.
    #[error("MSP {msp}: {source}")]
    Msp {
        msp: String,
        #[source]
        source: Box<SetupError>,
    },
    #[error("MSP {0} is defined twice")]
    Duplicate(String),
    #[error("revocation list {index}: {source}")]
    Crl {
        index: usize,
        #[source]
        source: CrlError,
    },
    #[error("signature hash family {0:?} is not supported; only SHA2")]
    UnsupportedHashFamily(String),
    #[error("identity identifier hash function {0:?} is not supported; SHA256 or SHA384")]
    UnsupportedIdentifierHash(String),
    /// `what` names the list (e.g. "root CA certificate"), `index` the position in it.
    #[error("{what} {index}: {source}")]
    Certificate {
        what: &'static str,
        index: usize,
        #[source]
        source: Box<ValidationError>,
    },
    #[error("no root CA certificate: an MSP needs at least one")]
    NoRootCa,
    /// A CA of the list `what` fails the checks of CAs.
    #[error("{what}: {source}")]
    Ca {
        what: &'static str,
        #[source]
        source: Box<SetupError>,
    },
    #[error(transparent)]
    Revoked(#[from] RevocationError),
    #[error("{subject:?} is not a CA certificate (basicConstraints CA:true missing)")]
    NotCa { subject: String },
    #[error("{subject:?} has no subject key identifier extension")]
    NoSubjectKeyId { subject: String },
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("organizational unit identifier {index} ({ou:?}): {source}")]
    OuIdentifier {
        index: usize,
        ou: String,
        #[source]
        source: Box<ValidationError>,
    },
    #[error("NodeOUs: the {} OU's certificate: {source}", role.name())]
    NodeOuCertificate {
        role: NodeRole,
        #[source]
        source: Box<ValidationError>,
    },
    /// Any problem with the administrators.
    #[error("{0} (admins are the certificates in admincerts)")]
    Admins(#[source] Box<SetupError>),
    #[error("no administrators: there are no admin certificates and NodeOUs define no admin OU")]
    NoAdmins,
    #[error("admin certificate {index} is not a valid identity: {source}")]
    AdminInvalid {
        index: usize,
        #[source]
        source: Box<ValidationError>,
    },
    #[error("admin certificate {index} is neither a client nor an admin: {client}; {admin}")]
    AdminWithoutRole {
        index: usize,
        client: Box<OuError>,
        admin: Box<OuError>,
    },
}
