{% load i18n static %}<?xml version="1.0" encoding="utf-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:atom="http://www.w3.org/2005/Atom">
  <xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>
  <xsl:template match="/atom:feed">
    <html lang="zh-Hans">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="atom:title"/> · {% translate "Feed" %}</title>
        <link rel="stylesheet" href="{% static 'dgd/site.css' %}"/>
      </head>
      <body>
        <header class="site-header"><a class="brand" href="{% url 'issues:home' %}">数字政府动态</a></header>
        <main>
          <section class="feed-page">
            <h1>{% translate "Follow with a feed reader" %}</h1>
            <p class="lead">{% translate "This is the site's Atom feed. Copy this page's address into your feed reader (RSS or Atom) to hear of each new issue." %}</p>
            <p class="help"><a href="{% url 'subscribers:subscribe' %}">{% translate "Prefer email? Subscribe to the monthly briefing" %}</a></p>
            <h2>{% translate "Recent issues" %}</h2>
            <ul class="feed-issues">
              <xsl:for-each select="atom:entry">
                <li><a href="{atom:link/@href}"><xsl:value-of select="atom:title"/></a> <span class="date"><xsl:value-of select="substring(atom:updated, 1, 10)"/></span></li>
              </xsl:for-each>
            </ul>
          </section>
        </main>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
