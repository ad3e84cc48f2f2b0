from courses.markdown import render


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
