// Un compteur de visites : chaque requête incrémente la clé « visites » dans Redis.
// Sans dépendance : le protocole de Redis (RESP) parlé à la main sur une socket TCP.
const http = require("node:http");
const net = require("node:net");

const port = Number(process.env.PORT) || 3000;
const redisHost = process.env.REDIS_HOST;

function incr(key) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: redisHost, port: 6379 });
    let reply = "";
    socket.setTimeout(2000, () => socket.destroy(new Error("Redis ne répond pas")));
    socket.on("connect", () => socket.write(`INCR ${key}\r\n`));
    socket.on("data", (chunk) => {
      reply += chunk;
      if (reply.endsWith("\r\n")) {
        socket.end();
        reply.startsWith(":") ? resolve(Number(reply.slice(1))) : reject(new Error(reply.trim()));
      }
    });
    socket.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  if (!redisHost) {
    console.log("REDIS_HOST n'est pas défini");
    res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("Erreur : la variable d'environnement REDIS_HOST n'est pas définie.\n");
    return;
  }
  try {
    const visites = await incr("visites");
    console.log(`visite n° ${visites}`);
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`Visites : ${visites}\n`);
  } catch (error) {
    console.log(`Redis injoignable sur ${redisHost} : ${error.message}`);
    res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`Erreur : Redis injoignable sur ${redisHost}.\n`);
  }
});

server.listen(port, () => console.log(`Compteur à l'écoute sur le port ${port}, Redis sur ${redisHost}`));

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
