// The reference fan-out: Node.js Socket.IO with @socket.io/redis-adapter, as a team would deploy
// it instead of our hub. One process per node; every node shares one Redis.
//   node server.js PORT REDIS_URL
// A client joins a room with `join` (acknowledged); `POST /emit {"rooms": [...], "data": {...}}`
// emits one `event` to each room, through the adapter, so members on every node receive it.
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const port = Number(process.argv[2]);
const redisUrl = process.argv[3];

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/emit") {
      res.statusCode = 404;
      res.end();
      return;
    }
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const { rooms, data } = JSON.parse(Buffer.concat(chunks).toString());
      // Stamped here, when the server takes the event, as our relay stamps its envelope.
      for (const room of rooms) io.to(room).emit("event", { room, t: performance.timeOrigin + performance.now(), data });
      res.end("ok");
    });
  });
  const io = new Server(server, { adapter: createAdapter(pub, sub), transports: ["websocket"] });
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(true);
    });
  });
  server.listen(port, "127.0.0.1", () => console.log(`reference fan-out listening on ${port}`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
