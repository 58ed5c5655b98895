//! Health and server reflection, as grpcurl and load balancers use them.
//! The service serves reflection both as `grpc.reflection.v1` and as the
//! older `grpc.reflection.v1alpha`; each is asked the same questions.
//! `GRPC_REFLECTION=false` turns both off.

use kakao_emulator::EmulatorConfig;
use prost_types::FileDescriptorProto;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use test_support::{Stack, health_status};

/// Every RPC of `auth.v1.AuthService`, with its request type.
const RPCS: [(&str, &str); 11] = [
    ("BuildLoginUrl", ".auth.v1.BuildLoginUrlRequest"),
    ("CompleteLogin", ".auth.v1.CompleteLoginRequest"),
    ("RefreshSession", ".auth.v1.RefreshSessionRequest"),
    ("RevokeSession", ".auth.v1.RevokeSessionRequest"),
    ("RevokeAllSessions", ".auth.v1.RevokeAllSessionsRequest"),
    ("VerifyAccessToken", ".auth.v1.VerifyAccessTokenRequest"),
    ("GetUser", ".auth.v1.GetUserRequest"),
    ("HandleUnlink", ".auth.v1.HandleUnlinkRequest"),
    ("GetJwks", ".auth.v1.GetJwksRequest"),
    ("WatchRevocations", ".auth.v1.WatchRevocationsRequest"),
    ("UnlinkIdentity", ".auth.v1.UnlinkIdentityRequest"),
];

/// A reflection client of one protocol version: `list_services` and
/// `file_containing_symbol`, one request each on the bidirectional stream.
macro_rules! reflection_client {
    ($version:ident) => {
        mod $version {
            use prost::Message;
            use prost_types::FileDescriptorProto;
            use tonic::transport::Channel;
            use tonic_reflection::pb::$version::{
                ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
                server_reflection_request::MessageRequest,
                server_reflection_response::MessageResponse,
            };

            async fn ask(channel: Channel, request: MessageRequest) -> MessageResponse {
                let request = ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(request),
                };
                let mut answers = ServerReflectionClient::new(channel)
                    .server_reflection_info(tokio_stream::once(request))
                    .await
                    .expect("reflection answers")
                    .into_inner();
                answers
                    .message()
                    .await
                    .expect("a reflection answer")
                    .expect("one answer per request")
                    .message_response
                    .expect("a message response")
            }

            /// The code a ListServices request is refused with, if any.
            pub async fn refusal(channel: Channel) -> Option<tonic::Code> {
                let request = ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(MessageRequest::ListServices(String::new())),
                };
                let answers = ServerReflectionClient::new(channel)
                    .server_reflection_info(tokio_stream::once(request))
                    .await;
                match answers {
                    Err(status) => Some(status.code()),
                    Ok(answers) => answers.into_inner().message().await.err().map(|s| s.code()),
                }
            }

            /// The names of the services the server lists.
            pub async fn list_services(channel: Channel) -> Vec<String> {
                match ask(channel, MessageRequest::ListServices(String::new())).await {
                    MessageResponse::ListServicesResponse(list) => {
                        list.service.into_iter().map(|s| s.name).collect()
                    }
                    other => panic!("ListServices answered {other:?}"),
                }
            }

            /// The file that declares `symbol` (and the files it imports).
            pub async fn file_containing_symbol(
                channel: Channel,
                symbol: &str,
            ) -> Vec<FileDescriptorProto> {
                let request = MessageRequest::FileContainingSymbol(symbol.into());
                match ask(channel, request).await {
                    MessageResponse::FileDescriptorResponse(files) => files
                        .file_descriptor_proto
                        .iter()
                        .map(|bytes| {
                            FileDescriptorProto::decode(bytes.as_slice())
                                .expect("a FileDescriptorProto")
                        })
                        .collect(),
                    other => panic!("FileContainingSymbol({symbol}) answered {other:?}"),
                }
            }
        }
    };
}

reflection_client!(v1);
reflection_client!(v1alpha);

#[tokio::test]
async fn health_reports_the_auth_service_as_serving() {
    let stack = Stack::start().await;
    for service in ["", "auth.v1.AuthService"] {
        let status = health_status(&stack.auth, service).await;
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test]
async fn with_reflection_turned_off_neither_version_is_served_and_health_still_is() {
    let stack = Stack::start_with(EmulatorConfig::default(), &[("GRPC_REFLECTION", "false")]).await;
    assert_eq!(
        v1::refusal(stack.auth.channel().await).await,
        Some(Code::Unimplemented)
    );
    assert_eq!(
        v1alpha::refusal(stack.auth.channel().await).await,
        Some(Code::Unimplemented)
    );
    let status = health_status(&stack.auth, "auth.v1.AuthService").await;
    assert_eq!(status, ServingStatus::Serving);
}

#[tokio::test]
async fn reflection_lists_the_auth_service_and_health_in_both_versions() {
    let stack = Stack::start().await;
    assert_eq!(v1::refusal(stack.auth.channel().await).await, None);
    for (version, services) in [
        ("v1", v1::list_services(stack.auth.channel().await).await),
        (
            "v1alpha",
            v1alpha::list_services(stack.auth.channel().await).await,
        ),
    ] {
        for wanted in ["auth.v1.AuthService", "grpc.health.v1.Health"] {
            assert!(
                services.iter().any(|s| s == wanted),
                "{version} lists {wanted}: {services:?}"
            );
        }
    }
}

#[tokio::test]
async fn reflection_describes_the_auth_service_with_every_rpc_in_both_versions() {
    let stack = Stack::start().await;
    let symbol = "auth.v1.AuthService";
    for (version, files) in [
        (
            "v1",
            v1::file_containing_symbol(stack.auth.channel().await, symbol).await,
        ),
        (
            "v1alpha",
            v1alpha::file_containing_symbol(stack.auth.channel().await, symbol).await,
        ),
    ] {
        let file: &FileDescriptorProto = files
            .iter()
            .find(|f| f.service.iter().any(|s| s.name() == "AuthService"))
            .unwrap_or_else(|| panic!("{version}: no file declares AuthService"));
        assert_eq!(file.package(), "auth.v1", "{version}");
        let service = file
            .service
            .iter()
            .find(|s| s.name() == "AuthService")
            .expect("the service");
        let methods: Vec<(&str, &str)> = service
            .method
            .iter()
            .map(|m| (m.name(), m.input_type()))
            .collect();
        assert_eq!(methods.len(), RPCS.len(), "{version}: {methods:?}");
        for rpc in RPCS {
            assert!(methods.contains(&rpc), "{version}: {rpc:?} in {methods:?}");
        }
    }
}
