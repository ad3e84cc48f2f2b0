// Petit serveur HTTP sans dépendance : seulement le module « http » de Node.js.
const http = require("node:http");
const os = require("node:os");

const port = Number(process.env.PORT) || 3000;

const server = http.createServer((req, res) => {
  if (req.url === "/sante") {
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
    res.end(JSON.stringify({ statut: "ok" }));
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
  // Dans un conteneur, le nom d'hôte est l'identifiant court du conteneur.
  res.end(`Bonjour depuis Drydock ! Conteneur : ${os.hostname()}\n`);
});

server.listen(port, () => {
  console.log(`Serveur à l'écoute sur le port ${port}`);
});

// « docker stop » envoie SIGTERM au processus principal (PID 1) :
// on ferme proprement au lieu d'attendre le SIGKILL dix secondes plus tard.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    console.log(`${signal} reçu, arrêt du serveur`);
    server.close(() => process.exit(0));
  });
}
