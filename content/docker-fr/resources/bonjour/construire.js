// « Construit » le site statique : écrit public/index.html (aucune dépendance npm).
const fs = require("node:fs");

fs.mkdirSync("public", { recursive: true });
fs.writeFileSync(
  "public/index.html",
  '<!doctype html>\n<html lang="fr">\n<meta charset="utf-8">\n<title>Bonjour</title>\n<h1>Bonjour depuis Drydock !</h1>\n</html>\n',
);
console.log("public/index.html écrit");
