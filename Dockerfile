# syntax=docker/dockerfile:1
#
# turn-server container image.
#
#   docker build -t turn-server .
#   docker run --rm --network host --read-only --tmpfs /tmp \
#       -e TURN__ADMINLISTEN=127.0.0.1:9641 turn-server --realm example.org --external-ip 203.0.113.7
#
# Build stage: the .NET 10 SDK publishes the server (framework-dependent, Release, warnings are errors).
# Runtime stage: the ASP.NET Core runtime image (the admin listener is Kestrel from the
# Microsoft.AspNetCore.App shared framework), an unprivileged user, nothing written outside /tmp, logs on
# standard output. docs/deploy.md explains every choice made here.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The build settings (.editorconfig holds analyzer settings: warnings are errors) and the project files first,
# so the package restore is a layer of its own that survives code changes.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/Turn.Stun/Turn.Stun.csproj src/Turn.Stun/
COPY src/Turn.Relay/Turn.Relay.csproj src/Turn.Relay/
COPY src/Turn.Transports/Turn.Transports.csproj src/Turn.Transports/
COPY src/Turn.Transports.Dtls/Turn.Transports.Dtls.csproj src/Turn.Transports.Dtls/
COPY src/Turn.Cluster.Redis/Turn.Cluster.Redis.csproj src/Turn.Cluster.Redis/
COPY src/Turn.Server/Turn.Server.csproj src/Turn.Server/
RUN dotnet restore src/Turn.Server
COPY src/ src/
RUN dotnet publish src/Turn.Server -c Release --no-restore -p:UseAppHost=false -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/turn-server-healthcheck

# The admin listener (/metrics, /healthz, /readyz, POST /drain) must be reachable from outside the container's
# network namespace for probes and scrapes, so the image binds it on every address of that namespace. It has no
# authentication: publish it only to a private network. With --network host (or Kubernetes hostNetwork) the
# container shares the host's addresses: set TURN__ADMINLISTEN to a loopback or private address there. Change the
# admin address through this variable rather than --admin-listen, so the health check below follows it.
ENV TURN__ADMINLISTEN=0.0.0.0:9641

# 3478: STUN/TURN over UDP and TCP; 5349: TURN over TLS (TCP) and DTLS (UDP); 9641: the admin listener.
# Relay ports: every allocation gets a UDP port from --min-port..--max-port (default 49152-65535) on the relay
# address. Clients and peers must reach those ports, so publish the whole range (-p 49152-65535:49152-65535/udp,
# with --external-ip set to the host's public address) or, better, run with --network host (Kubernetes:
# hostNetwork: true). A narrower range (--min-port/--max-port) makes publishing cheaper.
EXPOSE 3478/udp 3478/tcp 5349/tcp 5349/udp 9641/tcp

# The image's unprivileged "app" user (APP_UID of the .NET images), numeric so that Kubernetes can verify
# runAsNonRoot. The default ports are all above 1024, so no capability is needed.
USER 1654:1654

# GET /healthz on the admin listener, with bash alone (the runtime image has no curl or wget).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/turn-server-healthcheck"]

# SIGTERM (docker stop) starts a graceful drain: give docker stop a --time above --drain-timeout (600 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "turn-server.dll"]
