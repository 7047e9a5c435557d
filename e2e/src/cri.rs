//! A small CRI v1 (`runtime.v1`) client over a unix socket, as the kubelet talks to a container
//! runtime: the prost messages of CRI's `api.proto` for just the calls the tests make (written
//! here with the upstream field numbers, only the fields we use), and a blocking [`Cri`] client
//! that sends them with tonic on a current-thread tokio runtime.

use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Uri};

/// `NamespaceMode` of CRI: `POD` shares the sandbox's namespace, `NODE` is the host's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum NamespaceMode {
    Pod = 0,
    Container = 1,
    Node = 2,
    Target = 3,
}

/// `Protocol` of a CRI port mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Protocol {
    Tcp = 0,
    Udp = 1,
    Sctp = 2,
}

/// `PodSandboxState` of CRI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PodSandboxState {
    SandboxReady = 0,
    SandboxNotready = 1,
}

/// `ContainerState` of CRI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ContainerState {
    ContainerCreated = 0,
    ContainerRunning = 1,
    ContainerExited = 2,
    ContainerUnknown = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionRequest {
    #[prost(string, tag = "1")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionResponse {
    #[prost(string, tag = "1")]
    pub version: String,
    #[prost(string, tag = "2")]
    pub runtime_name: String,
    #[prost(string, tag = "3")]
    pub runtime_version: String,
    #[prost(string, tag = "4")]
    pub runtime_api_version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageSpec {
    #[prost(string, tag = "1")]
    pub image: String,
    #[prost(map = "string, string", tag = "2")]
    pub annotations: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageFilter {
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListImagesRequest {
    #[prost(message, optional, tag = "1")]
    pub filter: Option<ImageFilter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, repeated, tag = "2")]
    pub repo_tags: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub repo_digests: Vec<String>,
    #[prost(uint64, tag = "4")]
    pub size: u64,
    #[prost(bool, tag = "8")]
    pub pinned: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListImagesResponse {
    #[prost(message, repeated, tag = "1")]
    pub images: Vec<Image>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageStatusRequest {
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
    #[prost(bool, tag = "2")]
    pub verbose: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageStatusResponse {
    #[prost(message, optional, tag = "1")]
    pub image: Option<Image>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceOption {
    #[prost(enumeration = "NamespaceMode", tag = "1")]
    pub network: i32,
    #[prost(enumeration = "NamespaceMode", tag = "2")]
    pub pid: i32,
    #[prost(enumeration = "NamespaceMode", tag = "3")]
    pub ipc: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxSandboxSecurityContext {
    #[prost(message, optional, tag = "1")]
    pub namespace_options: Option<NamespaceOption>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxPodSandboxConfig {
    #[prost(string, tag = "1")]
    pub cgroup_parent: String,
    #[prost(message, optional, tag = "2")]
    pub security_context: Option<LinuxSandboxSecurityContext>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxMetadata {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub uid: String,
    #[prost(string, tag = "3")]
    pub namespace: String,
    #[prost(uint32, tag = "4")]
    pub attempt: u32,
}

/// A pod's host port (the kubelet's `hostPort`), served by the CNI `portmap` plugin.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PortMapping {
    #[prost(enumeration = "Protocol", tag = "1")]
    pub protocol: i32,
    #[prost(int32, tag = "2")]
    pub container_port: i32,
    #[prost(int32, tag = "3")]
    pub host_port: i32,
    #[prost(string, tag = "4")]
    pub host_ip: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxConfig {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<PodSandboxMetadata>,
    #[prost(string, tag = "2")]
    pub hostname: String,
    #[prost(string, tag = "3")]
    pub log_directory: String,
    #[prost(message, repeated, tag = "5")]
    pub port_mappings: Vec<PortMapping>,
    #[prost(map = "string, string", tag = "6")]
    pub labels: HashMap<String, String>,
    #[prost(map = "string, string", tag = "7")]
    pub annotations: HashMap<String, String>,
    #[prost(message, optional, tag = "8")]
    pub linux: Option<LinuxPodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RunPodSandboxRequest {
    #[prost(message, optional, tag = "1")]
    pub config: Option<PodSandboxConfig>,
    #[prost(string, tag = "2")]
    pub runtime_handler: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RunPodSandboxResponse {
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
}

/// The request of StopPodSandbox, RemovePodSandbox (the sandbox id, field 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxIdRequest {
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
}

/// An empty answer (StartContainer, StopContainer, RemoveContainer, StopPodSandbox, ...).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStatusRequest {
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
    #[prost(bool, tag = "2")]
    pub verbose: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodIp {
    #[prost(string, tag = "1")]
    pub ip: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxNetworkStatus {
    #[prost(string, tag = "1")]
    pub ip: String,
    #[prost(message, repeated, tag = "2")]
    pub additional_ips: Vec<PodIp>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStatus {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<PodSandboxMetadata>,
    #[prost(enumeration = "PodSandboxState", tag = "3")]
    pub state: i32,
    #[prost(int64, tag = "4")]
    pub created_at: i64,
    #[prost(message, optional, tag = "5")]
    pub network: Option<PodSandboxNetworkStatus>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStatusResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<PodSandboxStatus>,
    #[prost(map = "string, string", tag = "2")]
    pub info: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerMetadata {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(uint32, tag = "2")]
    pub attempt: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerConfig {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ContainerMetadata>,
    #[prost(message, optional, tag = "2")]
    pub image: Option<ImageSpec>,
    #[prost(string, repeated, tag = "3")]
    pub command: Vec<String>,
    #[prost(string, repeated, tag = "4")]
    pub args: Vec<String>,
    #[prost(string, tag = "5")]
    pub working_dir: String,
    #[prost(message, repeated, tag = "6")]
    pub envs: Vec<KeyValue>,
    #[prost(map = "string, string", tag = "9")]
    pub labels: HashMap<String, String>,
    #[prost(string, tag = "11")]
    pub log_path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerRequest {
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
    #[prost(message, optional, tag = "2")]
    pub config: Option<ContainerConfig>,
    #[prost(message, optional, tag = "3")]
    pub sandbox_config: Option<PodSandboxConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerResponse {
    #[prost(string, tag = "1")]
    pub container_id: String,
}

/// The request of StartContainer, RemoveContainer (the container id, field 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerIdRequest {
    #[prost(string, tag = "1")]
    pub container_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StopContainerRequest {
    #[prost(string, tag = "1")]
    pub container_id: String,
    /// Seconds before SIGKILL.
    #[prost(int64, tag = "2")]
    pub timeout: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerStatusRequest {
    #[prost(string, tag = "1")]
    pub container_id: String,
    #[prost(bool, tag = "2")]
    pub verbose: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerStatus {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<ContainerMetadata>,
    #[prost(enumeration = "ContainerState", tag = "3")]
    pub state: i32,
    #[prost(int64, tag = "5")]
    pub started_at: i64,
    #[prost(int32, tag = "7")]
    pub exit_code: i32,
    #[prost(message, optional, tag = "8")]
    pub image: Option<ImageSpec>,
    #[prost(string, tag = "9")]
    pub image_ref: String,
    #[prost(string, tag = "10")]
    pub reason: String,
    #[prost(string, tag = "11")]
    pub message: String,
    #[prost(string, tag = "15")]
    pub log_path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerStatusResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<ContainerStatus>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecSyncRequest {
    #[prost(string, tag = "1")]
    pub container_id: String,
    #[prost(string, repeated, tag = "2")]
    pub cmd: Vec<String>,
    /// Seconds; 0 is no limit.
    #[prost(int64, tag = "3")]
    pub timeout: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecSyncResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub stdout: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub stderr: Vec<u8>,
    #[prost(int32, tag = "3")]
    pub exit_code: i32,
}

/// A failed call: the transport, or the runtime's gRPC status.
#[derive(Debug)]
pub struct CriError {
    pub method: String,
    pub detail: String,
}

impl std::fmt::Display for CriError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CRI {}: {}", self.method, self.detail)
    }
}

impl std::error::Error for CriError {}

type CriResult<T> = Result<T, CriError>;

/// A blocking CRI v1 client on a unix socket.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    socket: PathBuf,
}

impl Cri {
    /// Connects to the CRI socket (unix path).
    pub fn connect(socket: &Path) -> CriResult<Cri> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CriError {
                method: "connect".into(),
                detail: e.to_string(),
            })?;
        let path = socket.to_path_buf();
        // The URI is a placeholder: the connector dials the socket whatever it says.
        let endpoint = Endpoint::from_static("http://cri.invalid")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        let channel = rt
            .block_on(
                endpoint.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        let s = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(s))
                    }
                })),
            )
            .map_err(|e| CriError {
                method: "connect".into(),
                detail: format!("{}: {e:?}", socket.display()),
            })?;
        Ok(Cri {
            rt,
            channel,
            socket: socket.to_path_buf(),
        })
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// One unary call of `method` (`/runtime.v1.<Service>/<Method>`).
    pub fn call<Req, Resp>(&self, method: &'static str, req: Req) -> CriResult<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let err = |detail: String| CriError {
            method: method.to_string(),
            detail,
        };
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        self.rt.block_on(async {
            grpc.ready()
                .await
                .map_err(|e| err(format!("not ready: {e}")))?;
            grpc.unary(
                tonic::Request::new(req),
                PathAndQuery::from_static(method),
                tonic_prost::ProstCodec::<Req, Resp>::default(),
            )
            .await
            .map(|r| r.into_inner())
            .map_err(|s| err(format!("{:?}: {}", s.code(), s.message())))
        })
    }

    pub fn version(&self) -> CriResult<VersionResponse> {
        self.call(
            "/runtime.v1.RuntimeService/Version",
            VersionRequest {
                version: "v1".into(),
            },
        )
    }

    pub fn list_images(&self) -> CriResult<Vec<Image>> {
        let r: ListImagesResponse = self.call(
            "/runtime.v1.ImageService/ListImages",
            ListImagesRequest::default(),
        )?;
        Ok(r.images)
    }

    /// The image named `image`, `None` when the runtime does not have it.
    pub fn image_status(&self, image: &str) -> CriResult<Option<Image>> {
        let r: ImageStatusResponse = self.call(
            "/runtime.v1.ImageService/ImageStatus",
            ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                verbose: false,
            },
        )?;
        Ok(r.image)
    }

    pub fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> CriResult<String> {
        let r: RunPodSandboxResponse = self.call(
            "/runtime.v1.RuntimeService/RunPodSandbox",
            RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            },
        )?;
        Ok(r.pod_sandbox_id)
    }

    pub fn pod_sandbox_status(&self, id: &str) -> CriResult<PodSandboxStatus> {
        let r: PodSandboxStatusResponse = self.call(
            "/runtime.v1.RuntimeService/PodSandboxStatus",
            PodSandboxStatusRequest {
                pod_sandbox_id: id.into(),
                verbose: false,
            },
        )?;
        r.status.ok_or_else(|| CriError {
            method: "PodSandboxStatus".into(),
            detail: "no status in the answer".into(),
        })
    }

    pub fn create_container(
        &self,
        pod: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> CriResult<String> {
        let r: CreateContainerResponse = self.call(
            "/runtime.v1.RuntimeService/CreateContainer",
            CreateContainerRequest {
                pod_sandbox_id: pod.into(),
                config: Some(config.clone()),
                sandbox_config: Some(sandbox.clone()),
            },
        )?;
        Ok(r.container_id)
    }

    pub fn start_container(&self, id: &str) -> CriResult<()> {
        let _: Empty = self.call(
            "/runtime.v1.RuntimeService/StartContainer",
            ContainerIdRequest {
                container_id: id.into(),
            },
        )?;
        Ok(())
    }

    pub fn container_status(&self, id: &str) -> CriResult<ContainerStatus> {
        let r: ContainerStatusResponse = self.call(
            "/runtime.v1.RuntimeService/ContainerStatus",
            ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            },
        )?;
        r.status.ok_or_else(|| CriError {
            method: "ContainerStatus".into(),
            detail: "no status in the answer".into(),
        })
    }

    pub fn exec_sync(&self, id: &str, cmd: &[&str], timeout_s: i64) -> CriResult<ExecSyncResponse> {
        self.call(
            "/runtime.v1.RuntimeService/ExecSync",
            ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: timeout_s,
            },
        )
    }

    pub fn stop_container(&self, id: &str, timeout_s: i64) -> CriResult<()> {
        let _: Empty = self.call(
            "/runtime.v1.RuntimeService/StopContainer",
            StopContainerRequest {
                container_id: id.into(),
                timeout: timeout_s,
            },
        )?;
        Ok(())
    }

    pub fn remove_container(&self, id: &str) -> CriResult<()> {
        let _: Empty = self.call(
            "/runtime.v1.RuntimeService/RemoveContainer",
            ContainerIdRequest {
                container_id: id.into(),
            },
        )?;
        Ok(())
    }

    pub fn stop_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let _: Empty = self.call(
            "/runtime.v1.RuntimeService/StopPodSandbox",
            PodSandboxIdRequest {
                pod_sandbox_id: id.into(),
            },
        )?;
        Ok(())
    }

    pub fn remove_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let _: Empty = self.call(
            "/runtime.v1.RuntimeService/RemovePodSandbox",
            PodSandboxIdRequest {
                pod_sandbox_id: id.into(),
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn messages_use_the_upstream_field_numbers() {
        // PodSandboxConfig.log_directory is field 3 (tag 0x1a), linux is field 8 (0x42).
        let c = PodSandboxConfig {
            log_directory: "/l".into(),
            linux: Some(LinuxPodSandboxConfig::default()),
            ..Default::default()
        };
        assert_eq!(c.encode_to_vec(), [0x1a, 2, b'/', b'l', 0x42, 0]);
        // ContainerConfig.log_path is field 11 (tag 0x5a).
        let c = ContainerConfig {
            log_path: "x".into(),
            ..Default::default()
        };
        assert_eq!(c.encode_to_vec(), [0x5a, 1, b'x']);
        // ExecSyncResponse: exit_code is field 3 (varint, tag 0x18).
        let r = ExecSyncResponse::decode(&[0x0a, 1, b'h', 0x18, 2][..]).unwrap();
        assert_eq!((r.stdout.as_slice(), r.exit_code), (&b"h"[..], 2));
    }
}
