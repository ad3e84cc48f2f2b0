from courses.markdown import render, render_inline


def test_markdown_tables_render_with_their_column_alignment():
    html = render("| Colonne | Sens |\n|:--|--:|\n| TAG | version |\n").html
    assert "<table>" in html and '<td style="text-align:left">TAG</td>' in html


def test_fenced_code_keeps_its_language_class():
    html = render("```dockerfile\nFROM debian:bookworm-slim\n```\n").html
    assert '<pre><code class="language-dockerfile">FROM debian:bookworm-slim' in html


def test_headings_get_ascii_anchors_and_feed_the_table_of_contents():
    rendered = render("## Images et conteneurs\n\n### Étape deux\n\n#### Détail\n")
    assert '<h2 id="images-et-conteneurs">' in rendered.html
    assert '<h3 id="etape-deux">' in rendered.html
    assert rendered.toc == [
        {"level": 2, "anchor": "images-et-conteneurs", "text": "Images et conteneurs"},
        {"level": 3, "anchor": "etape-deux", "text": "Étape deux"},
    ]


def test_raw_html_and_script_links_are_neutralised():
    html = render('<script>alert(1)</script>\n\n[clic](javascript:alert(1)) <img src=x onerror=alert(1)>\n').html
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html


def test_external_links_get_noopener():
    html = render("[Docs](https://docs.docker.com/get-started/)").html
    assert '<a href="https://docs.docker.com/get-started/" rel="noopener noreferrer">Docs</a>' in html


def test_image_sources_are_rewritten_to_served_urls():
    html = render("![Schéma](../figures/a.svg)", image_urls={"../figures/a.svg": "/cours/c/fichiers/figures/a.svg"}).html
    assert '<img src="/cours/c/fichiers/figures/a.svg" alt="Schéma" loading="lazy">' in html


# French typography (courses.markdown.typeset): U+202F before ; ? !, U+00A0 before : and inside « ».

def test_french_text_gets_narrow_no_break_spaces_before_semicolons_and_question_and_exclamation_marks():
    html = render("Vrai ; faux ? Enfin !").html
    assert html == "<p>Vrai\u202f; faux\u202f? Enfin\u202f!</p>\n"


def test_a_colon_gets_a_no_break_word_space_and_guillemets_hold_theirs_inside():
    html = render("**Précision :** un « serveur Docker »\n").html
    assert "<strong>Précision&nbsp;:</strong>" in html
    assert "«&nbsp;serveur Docker&nbsp;»" in html


def test_a_guillemet_typed_without_its_space_gets_one():
    assert "«&nbsp;latest&nbsp;»" in render("le tag «latest»").html


def test_no_space_is_added_where_the_author_typed_none_before_a_colon_or_question_mark():
    html = render("Le tag nginx:1.26, l'adresse http://exemple.fr/?x=1 et 10:30.").html
    assert "nginx:1.26" in html and "http://exemple.fr/?x=1" in html and "10:30" in html
    assert "\u202f" not in html and "&nbsp;" not in html


def test_code_spans_and_code_blocks_keep_their_spaces():
    html = render("Tapez `docker ps ; echo fini !` :\n\n```sh\nfor i in 1 2 ; do echo « $i » ; done\n```\n").html
    assert "<code>docker ps ; echo fini !</code>&nbsp;:" in html
    assert "for i in 1 2 ; do echo « $i » ; done" in html


def test_urls_and_html_attributes_are_never_typeset():
    html = render('Voir <https://exemple.fr/a?b=c> et [la page : ici](https://exemple.fr/ "titre : t") '
                  "![un schéma : la pile](f.svg)").html
    assert ">https://exemple.fr/a?b=c</a>" in html
    assert 'title="titre : t"' in html and 'alt="un schéma : la pile"' in html
    assert ">la page&nbsp;: ici</a>" in html


def test_headings_are_typeset_but_keep_their_anchor_and_the_toc_reads_typeset_text():
    rendered = render("## Machine virtuelle ou conteneur ?\n")
    assert '<h2 id="machine-virtuelle-ou-conteneur">Machine virtuelle ou conteneur\u202f?</h2>' in rendered.html
    assert rendered.toc[0]["text"] == "Machine virtuelle ou conteneur\u202f?"


def test_inline_rendering_of_quiz_choices_is_typeset_too():
    assert render_inline("Oui : **non** ?") == "Oui&nbsp;: <strong>non</strong>\u202f?"


def test_only_french_text_is_typeset():
    assert render("Really? Yes: it is!", language="en").html == "<p>Really? Yes: it is!</p>\n"
    assert render("Vraiment ? Oui.", language="fr-CA").html == "<p>Vraiment\u202f? Oui.</p>\n"
