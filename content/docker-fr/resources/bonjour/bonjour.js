// Salue la personne nommée en argument : node bonjour.js Alice
const nom = process.argv[2] || "monde";
console.log(`Bonjour, ${nom} !`);
