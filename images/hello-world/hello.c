#include <unistd.h>

static const char message[] =
    "\n"
    "Hello from Docker!\n"
    "Ce message montre que votre installation de Docker fonctionne.\n"
    "\n"
    "Pour l'afficher, Docker a :\n"
    " 1. reçu la commande du client docker (docker run hello-world) ;\n"
    " 2. tiré l'image hello-world du registre, si elle n'était pas déjà là ;\n"
    " 3. créé un conteneur depuis cette image, qui a lancé ce programme ;\n"
    " 4. renvoyé la sortie du programme au client docker, dans votre terminal.\n"
    "\n"
    "Essayez ensuite quelque chose de plus ambitieux :\n"
    " $ docker run -it debian:bookworm-slim bash\n"
    "\n";

int main(void)
{
    ssize_t written = write(STDOUT_FILENO, message, sizeof message - 1);
    return written == (ssize_t)(sizeof message - 1) ? 0 : 1;
}
